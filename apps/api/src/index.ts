/** @module The REST node as a library: `mountApi` for the api process and the standalone node. */
export { type Api, type ApiOptions, allRoutes, mountApi, pageTokenKey } from "./api.js";
export { renderOpenApi } from "./openapi.js";
export { type ApiEvents, createApiEvents, USERS_CONTROL_TOPIC } from "./services/events.js";
export { apiServicesFromConfig } from "./services/from-config.js";
export { createLogMailer, createSmtpMailer, type Email, type Mailer } from "./services/mailer.js";
export {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  DEFAULT_RATE_LIMITS,
  type RateLimiter,
  type RateLimits,
  type RateRule,
} from "./services/rate-limit.js";
export { createVault, type Vault } from "./services/vault.js";
