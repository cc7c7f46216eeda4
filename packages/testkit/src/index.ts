/** @module Integration-test harness. */
export { postgresBinDir, redisServerBin } from "./binaries.js";
export { createTestDatabase, type TestDatabase } from "./database.js";
export { freePort } from "./ports.js";
export { type PostgresServer, startPostgres } from "./postgres-server.js";
export { type AppProcess, spawnApp } from "./process.js";
export { pingRedis, type RedisServer, startRedis } from "./redis-server.js";
export { waitFor, waitForHttp } from "./wait.js";
