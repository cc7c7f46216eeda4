/** @module @nexus/protocol: the Phoenix Channels wire format, shared by gateway, api, tests and loadtest. */

export { decodeServerFrame, encodeClientMessage } from "./client-codec.js";
export { CloseCode, closeCodeForDecodeError } from "./close-codes.js";
export {
  ControlEvent,
  isBinaryPayload,
  type Message,
  type Payload,
  PHOENIX_TOPIC,
  PhoenixReason,
  PresenceEvent,
  type Ref,
  ReplyStatus,
} from "./message.js";
export { DEFAULT_VSN, negotiateSerializer } from "./negotiate.js";
export {
  type DecodeError,
  type DecodeErrorKind,
  type DecodeResult,
  EncodeError,
  type EncodeErrorKind,
  type Frame,
  type Serializer,
  type Vsn,
} from "./serializer.js";
export {
  chatTopic,
  conversationTopic,
  formatTopic,
  isUuid,
  parseTopic,
  SYSTEM_GENERAL_TOPIC,
  type Topic,
  userTopic,
} from "./topics.js";
export { v1JsonSerializer } from "./v1-json.js";
export { BinaryKind } from "./v2-binary.js";
export { v2JsonSerializer } from "./v2-json.js";
