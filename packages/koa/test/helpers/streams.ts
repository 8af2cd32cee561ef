import type { ExecutionContext } from 'ava';
import { schemas } from '@usher/koa';
import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Api } from './api.js';

/** The `token` events of a text/event-stream body. */
export function tokenEvents(text: string) {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: token\n'))
    .map((block) => schemas.QueueToken.parse(JSON.parse(block.slice(block.indexOf('data: ') + 6))));
}

/** The API on a real port, for tests that hold streams open. */
export async function listening(t: ExecutionContext, api: Api): Promise<number> {
  const server = api.app.listen(0, '127.0.0.1');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

/** Opens an event stream; resolves at its first `token` event, with its text so far and how it ended. */
export function openStream(port: number, token: string) {
  return new Promise<{
    response: IncomingMessage;
    text: () => string;
    ended: Promise<'end' | 'aborted'>;
  }>((resolve, reject) => {
    const request = get(
      {
        host: '127.0.0.1',
        port,
        path: `/queue/tokens/current/events?access_token=${token}`,
        agent: false,
      },
      (response) => {
        let text = '';
        const ended = new Promise<'end' | 'aborted'>((done) => {
          response.once('end', () => done('end'));
          response.once('aborted', () => done('aborted'));
        });
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('event: token')) resolve({ response, text: () => text, ended });
        });
      },
    );
    request.on('error', reject);
  });
}

/** `promise`, or 'still open' after `ms` of real time (these streams live on real sockets). */
export const within = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([
    promise,
    new Promise<'still open'>((resolve) => setTimeout(resolve, ms, 'still open').unref()),
  ]);
