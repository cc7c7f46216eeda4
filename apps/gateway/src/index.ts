/** @module The Phoenix socket node, as a library for the gateway process and the standalone node. */
export type { ChannelContext, ChannelHandler, HandleResult, JoinResult } from "./channels/channel.js";
export { createRouter, type Router } from "./channels/router.js";
export { type Gateway, type GatewayOptions, mountGateway, USERS_CONTROL_TOPIC } from "./gateway.js";
export { type GatewayNode, type GatewayNodeSettings, mountGatewayNode } from "./node.js";
