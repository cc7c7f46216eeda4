/** @module Configuration and logging for every Nexus process. */
export { type Config, ConfigError, type ConfigResult, loadConfig, parseConfig, type Role } from "./config.js";
export { defaultNodeId, envSchema } from "./env.js";
export { createLogger, type Logger, type LoggerOptions, REDACT_PATHS } from "./logger.js";
