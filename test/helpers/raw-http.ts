// Raw bytes over a new TCP connection, for what never becomes a well-formed HTTP request.
import { connect } from 'node:net';

/**
 * Writes `request` on a new connection to 127.0.0.1:`port` and resolves with everything the
 * server sent (latin1) once it closed the connection, and how long that took; rejects when the
 * server keeps it open past `timeoutMs`.
 */
export function rawExchange(port: number, request: string | Buffer, timeoutMs = 5000): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(received.slice(0, 200))}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: received, ms: performance.now() - started });
    });
    socket.on('error', () => undefined); // the server may reset after answering
    socket.write(request);
  });
}
