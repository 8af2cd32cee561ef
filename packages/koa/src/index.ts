export {
  createApp,
  ADMIN_GUESSES_PER_MINUTE,
  MIN_ADMIN_TOKEN_LENGTH,
  type AppOptions,
} from './createApp.js';
export { Telemetry, REQUEST_ID_HEADER, type TelemetryOptions } from './telemetry.js';
export { clientKey, type TokenLimiter } from './tokenLimiter.js';
export { CHALLENGE_HEADER, type ChallengeOptions } from './challenge.js';
export { REPLAYED_HEADER } from './routes.js';
export {
  problemTable,
  toProblem,
  HttpProblem,
  type ProblemCode,
  type HttpErrorCode,
} from './errors.js';
export type { DocumentInfo } from './openapi.js';
export * as schemas from './schemas.js';
