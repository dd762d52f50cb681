/**
 * What `tributary plan --json` produces, and what the master schedules from (bundle-planner.ts
 * derives it from the bundle). Its own module: the store and the rollouts both name it.
 */
export interface PlanJson {
  app: string;
  processors: { id: number; name: string; parallelism: number; placement: { where: 'edge' | 'cloud' | 'any'; selector?: Record<string, string> }; source: string | null; chain: string[]; lateSink: boolean }[];
  edges: { from: number; to: number; partitioner: string; kind: 'data' | 'late' }[];
}
