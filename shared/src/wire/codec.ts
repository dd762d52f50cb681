export { MAX_CBOR_ITEMS, cborDecoder, cborEncoder } from './cbor.js';
export {
  DEFAULT_FRAME_LIMITS,
  FRAME_VERSION,
  MAX_APP_LENGTH,
  decodeFrame,
  decodeFrameWithValues,
  encodeFrame,
  encodeFrameV1,
  frameMessageCount,
  peekFrameHeader,
  type Frame,
  type FrameHeader,
  type FrameLimits,
} from './frame.js';
export { encodeValues, type EncodedValues } from './frame-v2.js';
