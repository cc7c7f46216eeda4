/** @module HTTP plumbing shared by every Nexus server. */

export { type BodyResult, type ReadBodyOptions, readBody } from "./body.js";
export { createFatal, type Fatal, onShutdown, requireNativeUwsOrExit } from "./boot.js";
export { type Health, mountHealth, type ReadinessCheck } from "./health.js";
export { type Listening, listen } from "./listen.js";
export { createMetricsRegistry, mountMetrics, type Registry } from "./metrics.js";
export { histogramQuantile, parsePrometheusText, type Sample, sampleSum } from "./prometheus-text.js";
export { guard, statusLine } from "./respond.js";
export {
  type HttpRequest,
  type HttpResponse,
  isNativeUws,
  requireNativeUws,
  type TemplatedApp,
  UwsNotNativeError,
  type us_listen_socket,
  uWS,
  type WebSocket,
  type WebSocketBehavior,
} from "./uws.js";
