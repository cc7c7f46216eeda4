/** @module Integration-test harness. */
export { postgresBinDir, redisServerBin } from "./binaries.js";
export { createTestDatabase, type TestDatabase } from "./database.js";
export { freePort } from "./ports.js";
export { type PostgresServer, startPostgres } from "./postgres-server.js";
export { type AppProcess, spawnApp } from "./process.js";
export {
  type RedisCluster,
  type RedisClusterNode,
  redisCommand,
  startRedisCluster,
} from "./redis-cluster.js";
export { pingRedis, type RedisProcess, type RedisServer, redisProcess, startRedis } from "./redis-server.js";
export { waitFor, waitForHttp } from "./wait.js";
