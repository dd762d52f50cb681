/**
 * The application the control-plane benchmark places on a fleet of light agents: one edge task on
 * every agent labelled fleet=bench (an unbounded paced fleet, a filter, a sink on the device).
 * The light agents never run it: what is measured is how long the master takes to tell them.
 */
import { fleet, pipeline, stdoutSink, type Params } from 'tributary';

export default (params: Params) =>
  pipeline(params.string('name', 'placement'))
    .source(fleet({ devices: 1, rateHz: 1, paced: true }))
    .at('edge', { fleet: 'bench' })
    .filter((r) => r.value > 100)
    .at('edge', { fleet: 'bench' })
    .sink(stdoutSink());
