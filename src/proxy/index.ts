export type {
  CallInterceptor,
  InterceptDecision,
  InterceptedCall,
  ProxyOptions,
  RunningProxy,
} from './api.js';
export { startProxy } from './server.js';
export { GrpcCode, percentEncodeGrpcMessage } from './grpc-status.js';
