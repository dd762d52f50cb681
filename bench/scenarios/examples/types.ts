import type { RunSummary } from '@tributary/shared';

export interface ScenarioOptions {
  quick: boolean;
  /** Overrides the default input size (words or readings). */
  records?: number;
}

/** A generated input, ready to run the example on as often as needed. */
export interface PreparedInput {
  /** Records in the input (words or readings): the unit of records/s. */
  records: number;
  /** What a record is, for the report ("words", "readings"). */
  unit: string;
  inputPath: string;
  inputBytes: number;
  /** Generator settings, kept in the JSON results. */
  generator: Record<string, unknown>;
  /** Application parameters for a run writing to `output`. */
  params(output: string): Record<string, string>;
  /**
   * Checks one run's output so that a broken run can never report a fast figure. `summary` is
   * available for in-process runs only. Throws with a clear message when the output is wrong.
   */
  verify(output: string, summary?: RunSummary): Promise<VerifyResult>;
}

export interface VerifyResult {
  /** Lines in the main output file. */
  outputLines: number;
  /** Input lines read by the source (from the run summary), when known. */
  inputLines?: number;
  details: Record<string, number>;
}

export interface ExampleApp {
  name: string;
  /** Example module, relative to the repo root. */
  app: string;
  description: string;
  prepare(dir: string, options: ScenarioOptions): Promise<PreparedInput>;
}

export class VerifyError extends Error {}
