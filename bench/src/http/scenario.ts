import { type Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { hostTicks, processCpuSeconds, stealPercent, type Spread } from './cpu.js';

/** One HTTP request of a scenario, made from the scenario's request counter. */
export interface BenchRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface HttpScenario {
  readonly name: string;
  /** Which baseline the ratio is taken against. */
  readonly baseline: 'koa-get' | 'koa-post';
  readonly request: (i: number) => BenchRequest;
  /** Sees every answer (e.g. to keep the ids it created). */
  readonly onResponse?: (status: number, body: string, i: number) => void;
  /** Run for this many seconds, or exactly this many requests. */
  readonly limit: { readonly seconds: number } | { readonly requests: number };
  /**
   * The requests carry idempotency keys: when the run stops, requests still in
   * flight lose their answers (the server may have applied them), so each is
   * sent again with the same key and its replayed answer counted. Every request
   * then has exactly one answer, and the books can be checked exactly.
   */
  readonly retryUnanswered?: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly baseline: string;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly errors: number;
  readonly timeouts: number;
  /** Answers by status, and by problem code for refusals: `{ "201": 50, "409 SEAT_UNAVAILABLE": 4_100 }`. */
  readonly answers: Record<string, number>;
  /** Requests whose answer was lost when the run stopped and that were sent again (idempotent scenarios). */
  readonly retried: number;
  /** Requests made (autocannon's counter: answered, and in flight when the run stopped). */
  readonly sent: number;
  /** The server process's CPU (user + system) over the run, divided by the answered requests; when its pid is known. */
  readonly cpuUsPerRequest?: number;
  /** The host's steal time over the run, % of all CPU time. */
  readonly stealPercent?: number;
  /** Interleaved runs: req/s of each repetition (the row's req/s is their median). */
  runs?: number[];
  /** req/s ÷ the baseline's, median of the interleaved pairs' ratios, with their min–max. */
  ratio?: Spread;
  /** CPU µs/request ÷ the baseline's, median of the pairs, with their min–max. */
  cpuRatio?: Spread;
  /** Instructions the server ran per request under valgrind (the counted pass, `instructions.ts`), and the min–max of its windows. */
  instructions?: { perRequest: number; min: number; max: number };
  /** ÷ the baseline's instructions per request. */
  instructionRatio?: number;
}

/** How an answer is tallied: its status, and for a refusal its problem code (`409 SEAT_UNAVAILABLE`). */
function answerKey(status: number, body: string): string {
  if (status < 400) return String(status);
  try {
    return `${status} ${(JSON.parse(body) as { code?: string }).code ?? ''}`;
  } catch {
    return `${status} (not JSON)`;
  }
}

/**
 * Sends requests `from` … `from + count − 1` of a scenario, `agent.maxSockets` at a time over `agent`'s
 * kept-alive connections, and tallies the answers as {@link runScenario} does. For a server under
 * valgrind: the connections are opened once, not in every counted window (autocannon opens new ones
 * each run), and a request may take `timeout` seconds.
 */
export async function sendRequests(
  url: string,
  scenario: HttpScenario,
  from: number,
  count: number,
  agent: Agent,
  timeout: number,
): Promise<Record<string, number>> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error('load tests only target 127.0.0.1');
  const { port } = new URL(url);
  const answers: Record<string, number> = {};
  let next = from;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const made = scenario.request(i);
      const body = made.body === undefined ? undefined : JSON.stringify(made.body);
      const headers = {
        ...(body === undefined
          ? {}
          : {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(body)),
            }),
        ...made.headers,
      };
      const sent = request(
        { host: '127.0.0.1', port, method: made.method, path: made.path, headers, agent },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => {
            const key = answerKey(response.statusCode!, text);
            answers[key] = (answers[key] ?? 0) + 1;
            scenario.onResponse?.(response.statusCode!, text, i);
            resolve();
          });
        },
      );
      sent.setTimeout(timeout * 1000, () =>
        sent.destroy(new Error(`${scenario.name}: request ${i} unanswered after ${timeout} s`)),
      );
      sent.on('error', reject);
      sent.end(body);
    });
  const workers = Array.from({ length: agent.maxSockets }, async () => {
    while (next < from + count) await one(next++);
  });
  await Promise.all(workers);
  return answers;
}

/** The scenario's requests from number `offset` on (request `i` is the scenario's `offset + i`), capped by `limit`. */
export function shifted(
  scenario: HttpScenario,
  offset: number,
  limit: HttpScenario['limit'],
): HttpScenario {
  const onResponse = scenario.onResponse;
  return {
    ...scenario,
    limit,
    request: (i) => scenario.request(i + offset),
    ...(onResponse
      ? {
          onResponse: (status: number, body: string, i: number) =>
            onResponse(status, body, i + offset),
        }
      : {}),
  };
}

/**
 * Runs one scenario with autocannon against 127.0.0.1, 100 connections; `pid`: the server process, whose CPU time is measured;
 * `timeout`: seconds a request may take (longer for a server under valgrind).
 */
export async function runScenario(
  url: string,
  scenario: HttpScenario,
  {
    connections = 100,
    pid,
    timeout = 10,
  }: { connections?: number; pid?: number | undefined; timeout?: number } = {},
): Promise<ScenarioResult> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error('load tests only target 127.0.0.1');
  let next = 0;
  const answers: Record<string, number> = {};
  const unanswered = new Set<number>();
  let lastAnswerAt = 0;
  const record = (status: number, body: string, i: number) => {
    lastAnswerAt = performance.now();
    const key = answerKey(status, body);
    answers[key] = (answers[key] ?? 0) + 1;
    unanswered.delete(i);
    scenario.onResponse?.(status, body, i);
  };
  const cpuBefore = processCpuSeconds(pid);
  const hostBefore = hostTicks();
  const started = performance.now();
  const result = await autocannon({
    url,
    // autocannon refuses more connections than requests.
    connections:
      'requests' in scenario.limit ? Math.min(connections, scenario.limit.requests) : connections,
    timeout,
    ...('seconds' in scenario.limit
      ? { duration: scenario.limit.seconds }
      : { amount: scenario.limit.requests }),
    requests: [
      {
        setupRequest: (request, context: object) => {
          const i = next++;
          (context as { i: number }).i = i;
          unanswered.add(i);
          const made = scenario.request(i);
          return {
            ...request,
            method: made.method,
            path: made.path,
            headers: {
              ...(made.body === undefined ? {} : { 'content-type': 'application/json' }),
              ...made.headers,
            },
            ...(made.body === undefined ? {} : { body: JSON.stringify(made.body) }),
          };
        },
        onResponse: (status: number, body: string, context: object) =>
          record(status, body, (context as { i: number }).i),
      },
    ],
  });
  // A run capped by request count ends on autocannon's next one-second tick, not at its last answer.
  const elapsedMs = ('requests' in scenario.limit ? lastAnswerAt : performance.now()) - started;
  const lost = [...unanswered];
  if (scenario.retryUnanswered) {
    for (const i of lost) {
      const made = scenario.request(i);
      const response = await fetch(`${url}${made.path}`, {
        method: made.method,
        headers: {
          ...(made.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...made.headers,
        },
        ...(made.body === undefined ? {} : { body: JSON.stringify(made.body) }),
      });
      record(response.status, await response.text(), i);
    }
  }
  const cpuAfter = processCpuSeconds(pid);
  const steal = stealPercent(hostBefore, hostTicks());
  const answered = Object.values(answers).reduce((sum, count) => sum + count, 0);
  return {
    name: scenario.name,
    baseline: scenario.baseline,
    // Timed here: autocannon's `requests.average` averages whole-second buckets (a last partial
    // second counts as a full one) and its `duration` is rounded, which skews short runs.
    requestsPerSecond: Math.round(result.requests.total / (elapsedMs / 1000)),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    answers,
    retried: scenario.retryUnanswered ? lost.length : 0,
    sent: next,
    ...(cpuBefore === undefined || cpuAfter === undefined || answered === 0
      ? {}
      : { cpuUsPerRequest: Math.round(((cpuAfter - cpuBefore) / answered) * 1e7) / 10 }),
    ...(steal === undefined ? {} : { stealPercent: steal }),
  };
}
