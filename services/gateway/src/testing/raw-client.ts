import { connect, type Socket } from 'node:net';

/** A scripted client on a raw TCP socket, for what stock clients cannot express (bad input). */
export class RawClient {
  private buffer = '';
  private ended = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
    });
    socket.on('close', () => {
      this.ended = true;
    });
    socket.on('error', () => {
      this.ended = true;
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received so far. */
  get text(): string {
    return this.buffer;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Waits until the received text matches, or fails after `timeoutMs`. */
  async expect(pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.buffer);
      if (match !== null) return match[0];
      if (Date.now() >= deadline)
        throw new Error(`no ${String(pattern)} within ${timeoutMs} ms; got:\n${this.buffer}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits until the server closed the connection. */
  async expectClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() >= deadline)
        throw new Error(`connection still open after ${timeoutMs} ms; got:\n${this.buffer}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function header(domain: string): string {
  return `<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
}
