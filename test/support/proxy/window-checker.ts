import net from 'node:net';
import { FrameReader } from '../../../src/proxy/frame-reader.js';
import { CLIENT_PREFACE, FrameType, Flag, parseSettings, Setting } from '../../../src/proxy/frames.js';

/**
 * A byte pipe placed between the proxy and the fake runtime that checks HTTP/2 flow control the
 * way a strict receiver does (grpc-go, containerd's server, rejects DATA beyond its windows with
 * a connection error; Node's http2 server, the fake runtime, tolerates it). It records each
 * violation of the runtime's advertised windows by the proxy; the bytes pass through unchanged.
 */
export class WindowChecker {
  readonly violations: string[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly listenPath: string,
    private readonly runtimePath: string,
  ) {
    this.server = net.createServer((client) => this.pipe(client));
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.listenPath, resolve));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private pipe(client: net.Socket): void {
    const runtime = net.connect(this.runtimePath);
    for (const socket of [client, runtime]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('close', () => runtime.destroy());
    runtime.on('close', () => client.destroy());

    let connectionWindow = 65_535;
    let initialStreamWindow = 65_535;
    const streamWindows = new Map<number, number>();
    const toRuntime = new FrameReader();
    const fromRuntime = new FrameReader();
    let prefaceSeen = false;

    client.on('data', (chunk: Buffer) => {
      runtime.write(chunk);
      toRuntime.push(chunk);
      if (!prefaceSeen) {
        if (toRuntime.skip(CLIENT_PREFACE.length) === undefined) return;
        prefaceSeen = true;
      }
      for (let h = toRuntime.peek(); h !== undefined; h = toRuntime.peek()) {
        toRuntime.take();
        if (h.type !== FrameType.DATA) continue;
        connectionWindow -= h.length;
        const stream = (streamWindows.get(h.streamId) ?? initialStreamWindow) - h.length;
        streamWindows.set(h.streamId, stream);
        if (connectionWindow < 0) this.violations.push(`connection window overrun by ${-connectionWindow} bytes`);
        if (stream < 0) this.violations.push(`stream ${h.streamId} window overrun by ${-stream} bytes`);
      }
    });
    runtime.on('data', (chunk: Buffer) => {
      client.write(chunk);
      fromRuntime.push(chunk);
      for (let h = fromRuntime.peek(); h !== undefined; h = fromRuntime.peek()) {
        const payload = fromRuntime.take().payload();
        if (h.type === FrameType.SETTINGS && !(h.flags & Flag.ACK)) {
          for (const [id, value] of parseSettings(payload)) {
            if (id !== Setting.INITIAL_WINDOW_SIZE) continue;
            for (const [stream, window] of streamWindows) streamWindows.set(stream, window + value - initialStreamWindow);
            initialStreamWindow = value;
          }
        } else if (h.type === FrameType.WINDOW_UPDATE) {
          const increment = payload.readUInt32BE(0) & 0x7fff_ffff;
          if (h.streamId === 0) connectionWindow += increment;
          else streamWindows.set(h.streamId, (streamWindows.get(h.streamId) ?? initialStreamWindow) + increment);
        }
      }
    });
  }
}
