import { execSync } from 'node:child_process';
import { get, type ClientRequest } from 'node:http';
import { runScenario, type HttpScenario, type ScenarioResult } from '../http/scenario.js';
import { provisionUsers, tokenStorm } from './http.js';
import { startUsher } from './usherServer.js';

export interface EventsResult {
  readonly streams: number;
  readonly ticks: number;
  /** Token events received per tick, median. */
  readonly eventsPerTick: number;
  /** From the first to the last event of a tick, as clients saw it (ms): median and worst. */
  readonly spreadMs: { readonly p50: number; readonly max: number };
  /** Between the starts of consecutive ticks, as clients saw it (ms): median and worst. A slowed tick shows here. */
  readonly intervalMs: { readonly p50: number; readonly max: number };
  /** The server's own measure of a tick (ms). */
  readonly serverTickMs: { readonly last: number; readonly max: number };
  /** `GET /queue/tokens/current` polling on the same server, before and with the streams open. */
  readonly pollWithout: ScenarioResult;
  readonly pollWith: ScenarioResult;
}

/** How many sockets each of the two processes may open here. */
export function streamBudget(wanted: number): number {
  const limit = Number(execSync('sh -c "ulimit -n"').toString().trim()) || 1_024;
  return Math.min(wanted, Math.max(100, limit - 1_000));
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/**
 * Opens `wanted` Server-Sent Event streams of waiting tokens, then lets ticks
 * admit 1% of them a second (active tokens last 1 s) for `seconds`: every tick
 * moves everyone up, so every stream gets an event per tick.
 */
export async function eventStreams(wanted: number, seconds: number): Promise<EventsResult> {
  const streams = streamBudget(wanted);
  const perTick = String(Math.max(1, Math.round(streams / 100)));
  const usher = await startUsher({
    QUEUE_MAX_ACTIVE: perTick,
    QUEUE_ADMIT_PER_TICK: perTick,
    TOKEN_ACTIVE_TTL_MS: '1000',
    QUEUE_TICK_MS: '1000',
  });
  const requests: ClientRequest[] = [];
  try {
    await provisionUsers(usher.url, Number(perTick), 'active');
    const waiting = (await provisionWaiting(usher.url, streams)).map((user) => user.token);
    // Poll with the back half of the line: those stay waiting for the whole scenario.
    const back = waiting.slice(Math.floor(waiting.length / 2));
    const poll = (label: string) =>
      runScenario(usher.url, pollLine(label, back, { seconds: 3 }), { pid: usher.pid });
    const pollWithout = await poll('poll, no streams open');

    const arrivals: number[] = [];
    requests.push(
      ...(await openStreams(usher.url, waiting, () => arrivals.push(performance.now()))),
    );
    const pollWith = await poll(`poll, ${streams.toLocaleString('en')} streams open`);
    arrivals.length = 0;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1_000));

    // Events of one tick arrive together; a quiet gap of 300 ms separates ticks.
    const waves: number[][] = [];
    for (const at of arrivals.sort((a, b) => a - b)) {
      const wave = waves.at(-1);
      if (wave && at - wave.at(-1)! < 300) wave.push(at);
      else waves.push([at]);
    }
    const whole = waves.slice(1, -1);
    await usher.stop();
    const closed = usher.output
      .map((line) => JSON.parse(line) as { msg?: string; lastTickMs?: number; maxTickMs?: number })
      .find((entry) => entry.msg === 'store closed');
    return {
      streams,
      ticks: whole.length,
      eventsPerTick: median(whole.map((wave) => wave.length)),
      spreadMs: {
        p50: Math.round(median(whole.map((w) => w.at(-1)! - w[0]!))),
        max: Math.round(Math.max(0, ...whole.map((w) => w.at(-1)! - w[0]!))),
      },
      intervalMs: {
        p50: Math.round(median(whole.slice(1).map((w, i) => w[0]! - whole[i]![0]!))),
        max: Math.round(Math.max(0, ...whole.slice(1).map((w, i) => w[0]! - whole[i]![0]!))),
      },
      serverTickMs: {
        last: Math.round((closed?.lastTickMs ?? 0) * 100) / 100,
        max: Math.round((closed?.maxTickMs ?? 0) * 100) / 100,
      },
      pollWithout,
      pollWith,
    };
  } finally {
    for (const request of requests) request.destroy();
    await usher.stop();
    usher.cleanup();
  }
}

/** `GET /queue/tokens/current` by the waiting tokens `tokens`, round-robin. */
export function pollLine(
  name: string,
  tokens: readonly string[],
  limit: HttpScenario['limit'],
): HttpScenario {
  return {
    ...tokenStorm(0).poll,
    name,
    limit,
    request: (i) => ({
      method: 'GET',
      path: '/queue/tokens/current',
      headers: { authorization: `Bearer ${tokens[i % tokens.length]}` },
    }),
  };
}

/**
 * Opens an event stream for each token, `batch` at a time, each resolved at its first event;
 * `onEvent` is called for every later `token` event, `onKeepAlive` for every keep-alive comment.
 * The requests, to be destroyed by the caller. (A slow server, under valgrind, takes small batches:
 * connections it cannot accept in time are reset.)
 */
export async function openStreams(
  url: string,
  tokens: readonly string[],
  onEvent: () => void = () => {},
  onKeepAlive: () => void = () => {},
  batch = 500,
): Promise<ClientRequest[]> {
  const requests: ClientRequest[] = [];
  const { port } = new URL(url);
  try {
    for (let from = 0; from < tokens.length; from += batch) {
      await Promise.all(
        tokens.slice(from, from + batch).map(
          (token) =>
            new Promise<void>((resolve, reject) => {
              const request = get(
                {
                  host: '127.0.0.1',
                  port,
                  path: `/queue/tokens/current/events?access_token=${token}`,
                  agent: false,
                },
                (response) => {
                  response.setEncoding('utf8');
                  let first = true;
                  response.on('data', (chunk: string) => {
                    for (
                      let at = chunk.indexOf('event: token');
                      at !== -1;
                      at = chunk.indexOf('event: token', at + 1)
                    ) {
                      if (first) first = false;
                      else onEvent();
                    }
                    for (
                      let at = chunk.indexOf(': keep-alive');
                      at !== -1;
                      at = chunk.indexOf(': keep-alive', at + 1)
                    )
                      onKeepAlive();
                    resolve();
                  });
                },
              );
              request.on('error', reject);
              requests.push(request);
            }),
        ),
      );
    }
  } catch (error) {
    for (const request of requests) request.destroy();
    throw error;
  }
  return requests;
}

/** Waiting tokens: the active places are taken first. */
export async function provisionWaiting(url: string, count: number, connections = 100) {
  const users: { userId: string; token: string }[] = [];
  await runScenario(
    url,
    {
      name: 'provision waiting',
      baseline: 'koa-post',
      limit: { requests: count },
      request: (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: `waiting-${i}` } }),
      onResponse: (status, body, i) => {
        if (status === 201)
          users[i] = {
            userId: `waiting-${i}`,
            token: (JSON.parse(body) as { token: string }).token,
          };
      },
    },
    { connections },
  );
  return users.filter(Boolean);
}
