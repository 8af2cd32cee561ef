export { createApp, type AppOptions } from './createApp.js';
export { REPLAYED_HEADER } from './routes.js';
export { problemTable, toProblem, HttpProblem, type ProblemCode, type HttpErrorCode } from './errors.js';
export type { DocumentInfo } from './openapi.js';
export * as schemas from './schemas.js';
