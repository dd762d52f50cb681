/** Command-line options of `npm run bench` (bench/run.ts). */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
  only: string[] | null;
  /** Measured runs per throughput case (median, min-max). */
  runs: number;
  /** Records per edge-to-cloud throughput run (and durability runs). */
  records: number;
  /** Records per local-mode run. */
  localRecords: number;
  /** Records per transport-ceiling run. */
  transportRecords: number;
  /** Records per Node-RED run (one MQTT message each). */
  nodeRedRecords: number;
  /** Unpaced loads: records per second of event time, whole fleet (bench/apps/devices.ts). */
  eventRate: number;
  /** Device counts of the throughput scenario. */
  devices: number[];
  /** Offered loads of the latency scenario, records/s. */
  latencyRates: number[];
  /** Event-time warm-up excluded from latency figures, and measured seconds after it. */
  latencyWarmupSec: number;
  latencySeconds: number;
  /** Checkpoint interval (event-time ms) of the exactly-once runs. */
  checkpointMs: number;
  /** Footprint: idle sampling, then seconds at 1k records/s. */
  idleSeconds: number;
  footprintSeconds: number;
  /** Control plane: light agents, placements measured, and clock-service rounds. */
  agents: number;
  placements: number;
  clockRounds: number;
  /** Recovery at the sink: SIGKILLs per kind (worker, agent, master). */
  kills: number;
  recoveryKinds: ('worker' | 'agent' | 'master')[];
  /** Local-mode example apps (the `examples` scenario). */
  words: number;
  readings: number;
  cliRuns: number;
  batchSize: number;
  keep: boolean;
  save: boolean;
  /** Per-run time limit, ms, and for the whole benchmark. */
  runTimeoutMs: number;
  deadlineMs: number;
}

export const USAGE = (names: string[]) => `usage: npm run bench -- [options]

  --quick                 every scenario briefly (small inputs; under 3 minutes on 2 cores)
  --only <scenario>       run one scenario (repeatable): ${names.join(', ')}
                          (ratios need the baselines scenario in the same run)
  --runs <n>              measured runs per throughput case (default 3: the issue asks for a median of >= 3)
  --records <n>           records per edge-to-cloud run (default 1,000,000, quick 50,000)
  --local-records <n>     records per local-mode run (default 5,000,000, quick 500,000)
  --transport-records <n> records per transport-ceiling run (default 5,000,000, quick 500,000)
  --node-red-records <n>  records per Node-RED run (default 200,000, quick 10,000)
  --latency-seconds <n>   measured seconds per latency load, after the warm-up (default 10, quick 2)
  --checkpoint-ms <n>     checkpoint interval of the exactly-once runs (default 1000)
  --event-rate <n>        unpaced runs: records per second of event time, whole fleet (default 100,000)
  --devices <list>        device counts of the throughput scenario, comma-separated (default 1,10,1000)
  --agents <n>            light agents for the control-plane scenario (default 1000)
  --kills <n>             SIGKILLs per kind (worker, agent, master) in the recovery scenario (default 20, quick 2)
  --recovery-kinds <list> kinds the recovery scenario kills, comma-separated (default worker,agent,master)
  --words <n>, --readings <n>, --cli-runs <n>, --batch-size <n>
                          inputs and CLI runs of the local-mode example apps (scenario examples)
  --keep                  keep the temp dir (data dirs, outputs, Node-RED user dir)
  --no-save               print only; write nothing under bench/results/
  -h, --help              this text`;

export function parseOptions(argv: string[], names: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
      records: { type: 'string' },
      'local-records': { type: 'string' },
      'transport-records': { type: 'string' },
      'node-red-records': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'checkpoint-ms': { type: 'string' },
      'event-rate': { type: 'string' },
      devices: { type: 'string' },
      agents: { type: 'string' },
      kills: { type: 'string' },
      'recovery-kinds': { type: 'string' },
      words: { type: 'string' },
      readings: { type: 'string' },
      'cli-runs': { type: 'string' },
      'batch-size': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const q = values.quick;
  const n = (name: string, raw: string | undefined, fallback: number, min = 1): number => {
    if (raw === undefined) return fallback;
    const v = Number(raw.replace(/[_,]/g, ''));
    if (!Number.isSafeInteger(v) || v < min) throw new Error(`--${name} expects an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return v;
  };
  const only = values.only ?? null;
  const unknown = (only ?? []).filter((o) => !names.includes(o));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${names.join(', ')}`);
  return {
    quick: q,
    only,
    runs: n('runs', values.runs, 3),
    records: n('records', values.records, q ? 50_000 : 1_000_000, 1000),
    localRecords: n('local-records', values['local-records'], q ? 500_000 : 5_000_000, 1000),
    transportRecords: n('transport-records', values['transport-records'], q ? 500_000 : 5_000_000, 1000),
    nodeRedRecords: n('node-red-records', values['node-red-records'], q ? 10_000 : 200_000, 100),
    eventRate: n('event-rate', values['event-rate'], 100_000),
    devices: devicesOf(values.devices),
    latencyRates: [1_000, 10_000, 100_000],
    latencyWarmupSec: q ? 1 : 2,
    latencySeconds: n('latency-seconds', values['latency-seconds'], q ? 2 : 10),
    checkpointMs: n('checkpoint-ms', values['checkpoint-ms'], 1000),
    idleSeconds: q ? 1 : 5,
    footprintSeconds: q ? 3 : 20,
    agents: n('agents', values.agents, 1000),
    placements: q ? 1 : 3,
    clockRounds: q ? 20 : 200,
    kills: n('kills', values.kills, q ? 2 : 20),
    recoveryKinds: kindsOf(values['recovery-kinds']),
    words: n('words', values.words, q ? 100_000 : 2_000_000),
    readings: n('readings', values.readings, q ? 100_000 : 1_000_000),
    cliRuns: n('cli-runs', values['cli-runs'], q ? 0 : 2, 0),
    batchSize: n('batch-size', values['batch-size'], 1024),
    keep: values.keep,
    save: !values['no-save'],
    runTimeoutMs: q ? 60_000 : 300_000,
    deadlineMs: q ? 10 * 60_000 : 60 * 60_000,
  };
}

function devicesOf(raw: string | undefined): number[] {
  if (raw === undefined) return [1, 10, 1000];
  const counts = raw.split(/[\s,]+/).filter((d) => d.length > 0).map(Number);
  if (counts.length === 0 || counts.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new Error(`--devices expects device counts >= 1, comma-separated, got ${JSON.stringify(raw)}`);
  return counts;
}

function kindsOf(raw: string | undefined): BenchOptions['recoveryKinds'] {
  const all = ['worker', 'agent', 'master'] as const;
  if (raw === undefined) return [...all];
  const kinds = raw.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
  const bad = kinds.filter((k) => !(all as readonly string[]).includes(k));
  if (bad.length > 0 || kinds.length === 0) throw new Error(`--recovery-kinds expects some of ${all.join(',')}, got ${JSON.stringify(raw)}`);
  return kinds as BenchOptions['recoveryKinds'];
}
