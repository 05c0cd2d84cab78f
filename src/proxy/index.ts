export type {
  CallInterceptor,
  InterceptDecision,
  InterceptedCall,
  ProxyObserver,
  ProxyOptions,
  RunningProxy,
} from './api.js';
export { startProxy } from './server.js';
export { GrpcCode, percentEncodeGrpcMessage } from './grpc-status.js';
