import * as z from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { problemTable, type ProblemCode } from './errors.js';
import { actsForUser, identityProblems } from './identity.js';
import { CHALLENGE_HEADER } from './challenge.js';
import { REPLAYED_HEADER, type Route } from './routes.js';
import { CACHEABLE } from './caching.js';
import { ChallengeHeader, IdempotencyKey, Problem } from './schemas.js';
import { REQUEST_ID_HEADER } from './telemetry.js';

export interface DocumentInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
}

/**
 * The OpenAPI 3.1 document of `routes`, generated from the very schemas the routes validate with.
 * `basePath`: where the host mounts the app (its `servers`).
 */
export function openApiDocument(
  routes: readonly Route[],
  info: DocumentInfo,
  basePath?: string,
): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const operation: ZodOpenApiOperationObject = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      ...(route.bearer
        ? { security: [{ queueToken: [] }, ...(route.queryToken ? [{ queueTokenQuery: [] }] : [])] }
        : {}),
      ...(route.admin ? { security: [{ adminToken: [] }] } : {}),
      ...(route.scanner ? { security: [{ scannerToken: [] }] } : {}),
      requestParams: {
        ...(route.params ? { path: route.params as z.ZodObject } : {}),
        header: z.object({
          [REQUEST_ID_HEADER]: z.string().optional().meta({
            description:
              'Echoed on the answer when 1–128 of A–Z a–z 0–9 . _ : = + / @ -; otherwise a new UUID is answered',
          }),
          ...(route.idempotent ? { 'Idempotency-Key': IdempotencyKey.optional() } : {}),
          ...(route.challenged ? { [CHALLENGE_HEADER]: ChallengeHeader } : {}),
          ...(route.cacheable
            ? {
                'If-None-Match': z.string().optional().meta({
                  description:
                    'The `ETag` of an answer the client has: 304 Not Modified, with no body, while it is still the answer',
                }),
              }
            : {}),
        }),
        ...(route.query ? { query: route.query as z.ZodObject } : {}),
      },
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: route.body } },
            },
          }
        : {}),
      responses: responsesOf(route),
    };
    paths[path] = {
      ...paths[path],
      [route.method]: operation,
      // A probe's HEAD: the GET's answers without a body.
      ...(route.head
        ? {
            head: {
              ...operation,
              operationId: `${route.operationId}Head`,
              summary: `${route.summary} (headers only)`,
              responses: withoutBodies(operation.responses),
            },
          }
        : {}),
    };
  }
  return createDocument({
    openapi: '3.1.0',
    info: { ...info },
    ...(basePath ? { servers: [{ url: basePath }] } : {}),
    paths,
    components: {
      securitySchemes: {
        queueToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The queue token from `POST /queue/tokens`',
        },
        ...(routes.some((route) => route.queryToken)
          ? {
              queueTokenQuery: {
                type: 'apiKey' as const,
                in: 'query' as const,
                name: 'access_token',
                description:
                  'The queue token as `?access_token=`, for `EventSource`, which cannot send headers',
              },
            }
          : {}),
        ...(routes.some((route) => route.admin)
          ? {
              adminToken: {
                type: 'http' as const,
                scheme: 'bearer',
                description: "The operator's token (`ADMIN_TOKEN`)",
              },
            }
          : {}),
        ...(routes.some((route) => route.scanner)
          ? {
              scannerToken: {
                type: 'http' as const,
                scheme: 'bearer',
                description: "The door scanners' token (`SCANNER_TOKEN`, SPEC §11)",
              },
            }
          : {}),
      },
    },
  });
}

/** The same answers with no content: what `HEAD` sends. */
function withoutBodies(responses: ZodOpenApiResponsesObject): ZodOpenApiResponsesObject {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      const { content: _content, ...rest } = response as { content?: unknown };
      return [status, rest];
    }),
  ) as unknown as ZodOpenApiResponsesObject;
}

function responsesOf(route: Route): ZodOpenApiResponsesObject {
  const json = {
    [route.success.mediaType ?? 'application/json']: { schema: route.success.schema },
  };
  const headers = z.object({
    [REQUEST_ID_HEADER]: z.string().meta({
      description:
        "The request's id, as in the access log: the client's own if sane, else a new UUID",
    }),
    ...(route.idempotent
      ? {
          [REPLAYED_HEADER]: z.literal('true').optional().meta({
            description:
              'Present on a retry with an `Idempotency-Key` already used for this request: the first answer, replayed; nothing was done now',
          }),
        }
      : {}),
  });
  const cacheHeaders = {
    ETag: z.string().meta({
      description:
        'A strong validator of this answer (a hash of its bytes): it changes exactly when the answer does, on every gateway. Send it back as `If-None-Match`',
    }),
    'Cache-Control': z.literal(CACHEABLE).meta({
      description:
        'A browser or a CDN may keep the answer a second, then asks again with `If-None-Match`',
    }),
  };
  const responses: ZodOpenApiResponsesObject = {
    [`${route.success.status}`]: {
      description: route.success.description,
      content: json,
      headers: route.cacheable ? headers.extend(cacheHeaders) : headers,
    },
  };
  if (route.cacheable)
    responses['304'] = {
      description: 'Not modified: the `If-None-Match` names the answer as it is; no body',
      headers: headers.extend(cacheHeaders),
    };
  if (route.alsoAnswers)
    responses[`${route.alsoAnswers.status}`] = {
      description: route.alsoAnswers.description,
      content: json,
      headers,
    };
  const codes = new Set<ProblemCode>(route.errors);
  if (route.body || route.params || route.query || route.idempotent) codes.add('VALIDATION_FAILED');
  if (route.body) codes.add('PAYLOAD_TOO_LARGE');
  if (route.admin) codes.add('ADMIN_TOKEN_INVALID');
  if (route.scanner) codes.add('SCANNER_TOKEN_INVALID');
  // With `resolveUserId` (the host identifies users): not signed in, or not this token's user.
  if (actsForUser(route, 'a token')) for (const code of identityProblems) codes.add(code);
  codes.add('SHUTTING_DOWN');
  codes.add('UNAVAILABLE');
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes)
    byStatus.set(problemTable[code].status, [
      ...(byStatus.get(problemTable[code].status) ?? []),
      code,
    ]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status) as `${4 | 5}${string}`] = {
      description: list.map((code) => `\`${code}\`: ${problemTable[code].title}`).join('; '),
      content: { 'application/problem+json': { schema: Problem } },
      ...(status === 429
        ? {
            headers: z.object({
              'Retry-After': z
                .string()
                .meta({ description: 'Whole seconds to wait before asking again (at least 1)' }),
            }),
          }
        : {}),
    };
  }
  return responses;
}
