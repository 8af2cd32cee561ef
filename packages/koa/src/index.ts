export { createApp, type AppOptions } from './createApp.js';
export { problemTable, toProblem, HttpProblem, type ProblemCode, type HttpErrorCode } from './errors.js';
export { openApiDocument, type DocumentInfo } from './openapi.js';
export { apiRoutes, type Route, type RouteAnswer, type RouteInput } from './routes.js';
export * as schemas from './schemas.js';
