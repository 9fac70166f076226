// The scheduler: a pure, deterministic function from configuration + status (+ the time, for
// failure timeouts) to a transition: the graph of actions with their orderings, and the summary a
// person reads. Nothing here reads a clock, a file or a socket.
//
// The passes, in order (the same order as Pacemaker's scheduler, which crm_simulate runs):
//   unpack     configuration, nodes, resources, status (roles, failures, who must be fenced)
//   constraints  user orderings, colocations, locations
//   criteria   location scores, stickiness, migration-threshold bans
//   internal   implicit orderings and colocations of groups, clones, primitives
//   changes    restarts for changed resource definitions (operation digests)
//   assign     every resource to a node (allocation)
//   actions    probes, then start/stop/promote/demote/migrate/monitor per resource
//   fencing    fence unclean nodes, order recovery after fencing; shutdowns
//   orderings  apply the edges and propagate required/runnable to a fixed point
import { applyExclusiveDiscovery, applyLocations, applyStickiness, assign, checkFailureThreshold, sortResources } from "./assign.ts";
import { unpackConstraints } from "./constraints.ts";
import { scheduleFencingAndShutdowns } from "./fencing.ts";
import { type TransitionGraph, buildGraph, formatGraph } from "./graph.ts";
import type { ClusterInput } from "./model.ts";
import { applyOrderings, updateAllActions } from "./ordering.ts";
import { createActions, handleRscConfigChanges, internalConstraints, scheduleProbes } from "./plan.ts";
import { type WorkingSet, R_ORPHAN } from "./sched-core.ts";
import { type SummaryLine, formatSummary, summaryLines } from "./summary.ts";
import { getFailcount, indexStatus, newWorkingSet, unpackNodes, unpackResources, unpackStatus, clearFailcount } from "./unpack.ts";

export interface ScheduleOptions {
  /** Seconds since the epoch; failure-timeout and expiry are judged against it. */
  now_s: number;
  /** Schedule probes for resources of unknown state (Pacemaker's enable-startup-probes). */
  probes?: boolean;
}

export interface Transition {
  graph: TransitionGraph;
  summary: SummaryLine[];
  /** Configuration problems and decisions worth a log line (not errors). */
  warnings: string[];
}

function runPasses(input: ClusterInput, opts: ScheduleOptions): WorkingSet {
  const ws = newWorkingSet(input, opts.now_s);
  const idx = indexStatus(input);
  unpackNodes(ws, input);
  unpackResources(ws, input);
  unpackStatus(ws, input, idx);
  unpackConstraints(ws, input);

  applyLocations(ws);
  for (const r of ws.resources) applyStickiness(ws, r);
  for (const node of ws.nodes) {
    for (const r of ws.resources) {
      checkFailureThreshold(ws, r, node);
      applyExclusiveDiscovery(r, node);
    }
  }

  for (const r of ws.resources) internalConstraints(ws, r);
  handleRscConfigChanges(ws, input, idx);

  if (ws.placementStrategy !== "default") sortResources(ws);
  for (const r of ws.resources) assign(ws, r, null);

  const probes = opts.probes ?? !/^(false|off|no|n|0)$/i.test(input.config.properties["enable-startup-probes"] ?? "true");
  if (probes) scheduleProbes(ws);
  if (ws.stopOrphanResources) {
    for (const r of ws.resources) {
      if ((r.flags & R_ORPHAN) === 0) continue;
      for (const node of ws.nodes) {
        if (!node.online) continue;
        if (getFailcount(ws, node, r, true, null, null).count === 0) continue;
        clearFailcount(ws, r, node);
      }
    }
  }
  for (const r of ws.resources) createActions(ws, r);

  scheduleFencingAndShutdowns(ws);
  applyOrderings(ws);
  updateAllActions(ws);
  return ws;
}

/** Configuration + status → transition. Deterministic: the same input gives the same output. */
export function schedule(input: ClusterInput, opts: ScheduleOptions): Transition {
  const ws = runPasses(input, opts);
  const summary = summaryLines(ws);
  const graph = buildGraph(ws);
  return { graph, summary, warnings: ws.warnings };
}

/** The Transition Summary lines exactly as crm_simulate prints them (without the heading). */
export function transitionSummary(t: Transition): string[] {
  return formatSummary(t.summary);
}

export function graphLines(t: Transition): string[] {
  return formatGraph(t.graph);
}

export type { SummaryLine, TransitionGraph };
