/**
 * The error catalogue of Tributary. Every error a user can meet has a stable code
 * (`TRIB_ERR_…`) and may carry a `cause`; messages may change between versions, codes do not.
 * Programmer mistakes (wrong argument types in the API) are plain TypeErrors instead.
 * test/errors.test.ts checks that every code is documented in docs/errors.md.
 */
export const ErrorCodes = {
  /** A wire frame could not be decoded: truncated, garbage, wrong version, bad fields. */
  FRAME_INVALID: 'TRIB_ERR_FRAME_INVALID',
  /** A wire frame is larger than the configured limit. */
  FRAME_TOO_LARGE: 'TRIB_ERR_FRAME_TOO_LARGE',
  /** A wire frame has a version this node does not speak. */
  FRAME_VERSION: 'TRIB_ERR_FRAME_VERSION',
  /** The DAG or DSL pipeline is malformed (cycle, unknown processor, no source, …). */
  GRAPH_INVALID: 'TRIB_ERR_GRAPH_INVALID',
  /** Configuration failed validation. */
  CONFIG_INVALID: 'TRIB_ERR_CONFIG_INVALID',
  /** An application module could not be loaded or does not export a pipeline. */
  APP_INVALID: 'TRIB_ERR_APP_INVALID',
  /** A required application parameter is missing or malformed. */
  PARAM_INVALID: 'TRIB_ERR_PARAM_INVALID',
  /** User code in a task threw; the cause is attached. */
  TASK_FAILED: 'TRIB_ERR_TASK_FAILED',
  /** A source failed to open or read. */
  SOURCE_FAILED: 'TRIB_ERR_SOURCE_FAILED',
  /** A sink failed to open or write. */
  SINK_FAILED: 'TRIB_ERR_SINK_FAILED',
  SINK_FENCED: 'TRIB_ERR_SINK_FENCED',
  /** A source produced a record whose timestamp is not an integer epoch-ms value. */
  BAD_TIMESTAMP: 'TRIB_ERR_BAD_TIMESTAMP',
  /** The MQTT broker could not be reached within the connect timeout. */
  BROKER_UNREACHABLE: 'TRIB_ERR_BROKER_UNREACHABLE',
  /** The MQTT broker refused the connection (CONNACK: not authorized, bad credentials, …). */
  BROKER_REFUSED: 'TRIB_ERR_BROKER_REFUSED',
  /** The MQTT broker refused a subscription (SUBACK failure), typically its topic ACL. */
  SUBSCRIBE_REFUSED: 'TRIB_ERR_SUBSCRIBE_REFUSED',
  /** The transport was closed before the operation (e.g. an unacknowledged publish) completed. */
  TRANSPORT_CLOSED: 'TRIB_ERR_TRANSPORT_CLOSED',
  /** A built-in source or sink has no implementation in this process, or names an unknown one. */
  CONNECTOR_MISSING: 'TRIB_ERR_CONNECTOR_MISSING',
  /** An application bundle was built against an API version this node cannot host. */
  API_VERSION: 'TRIB_ERR_API_VERSION',
  /** An agent update was refused before anything switched: wrong SHA-256 or the master's signature does not verify. */
  AGENT_UPDATE_REFUSED: 'TRIB_ERR_AGENT_UPDATE_REFUSED',
  /** A remote agent configuration was refused before anything changed: hash, signature, not a JSON object, a forbidden or unknown setting, or invalid once merged. */
  AGENT_CONFIG_REFUSED: 'TRIB_ERR_AGENT_CONFIG_REFUSED',
  /** A replay log on disk has a newer format than this agent version reads (it was written by a later version). */
  REPLAY_LOG_FORMAT: 'TRIB_ERR_REPLAY_LOG_FORMAT',
  /** A fleet rollout request is malformed (selector, waves, thresholds) or names no artefact the master has. */
  ROLLOUT_INVALID: 'TRIB_ERR_ROLLOUT_INVALID',
  /** An enrolment or certificate renewal was refused: unknown, expired or reused token, revoked device, bad proof. */
  ENROLMENT_REFUSED: 'TRIB_ERR_ENROLMENT_REFUSED',
  /** A certificate or certificate request is malformed, badly signed, or names the wrong identity. */
  CERT_INVALID: 'TRIB_ERR_CERT_INVALID',
  /** `devices add` of an id that is already registered and not revoked. */
  DEVICE_EXISTS: 'TRIB_ERR_DEVICE_EXISTS',
  /** A device id the master's device registry does not know. */
  DEVICE_UNKNOWN: 'TRIB_ERR_DEVICE_UNKNOWN',
  /** Enrolment or renewal could not be completed: the master was unreachable or its answer unusable. */
  ENROLMENT_FAILED: 'TRIB_ERR_ENROLMENT_FAILED',
  /** A node's identity (<data>/identity/) is missing where one is needed, unreadable, or another node's. */
  IDENTITY_INVALID: 'TRIB_ERR_IDENTITY_INVALID',
  /** A node's certificate has expired: it can no longer connect or renew; enrol again. */
  CERT_EXPIRED: 'TRIB_ERR_CERT_EXPIRED',
  /** A request to the master's API carried no admin token (nor a dashboard session). */
  AUTH_REQUIRED: 'TRIB_ERR_AUTH_REQUIRED',
  /** The admin token or session presented is unknown, revoked or expired. */
  AUTH_INVALID: 'TRIB_ERR_AUTH_INVALID',
  /** An application bundle's signature is missing, invalid, or not made by the master's key: not evaluated. */
  BUNDLE_SIGNATURE_INVALID: 'TRIB_ERR_BUNDLE_SIGNATURE_INVALID',
  /** A submission's plan is not the plan of its bundle (the master plans the bundle itself). */
  PLAN_MISMATCH: 'TRIB_ERR_PLAN_MISMATCH',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class TributaryError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A frame that failed validation. Decoding never throws anything else. */
export class FrameError extends TributaryError {}

export class GraphError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.GRAPH_INVALID, message, options);
  }
}

export class ConfigError extends TributaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CONFIG_INVALID, message, options);
  }
}

export class AppError extends TributaryError {}

export class TaskError extends TributaryError {}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/**
 * Whether `err` is a Tributary error, recognised by its `code`, never by `instanceof`: an error
 * thrown by an application bundle, another thread, or decoded from the wire is not an instance of
 * this process's class, but keeps its code.
 */
export function isTributaryError(err: unknown): err is TributaryError {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && KNOWN_CODES.has(code);
}
