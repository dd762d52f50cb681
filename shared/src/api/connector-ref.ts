/**
 * A built-in source or sink whose implementation does I/O (files, MQTT): the application's spec
 * only names it and carries its checked options; the process hosting the task supplies the
 * implementation. That keeps the API free of I/O, and an application bundle free of the MQTT
 * client and everything else a node already has.
 */
export interface ConnectorRef {
  /** `lines`, `jsonLines`, `mqtt`, `stdout`: looked up in the host's `Connectors`. */
  readonly type: string;
  readonly options: unknown;
}
