/** A DAG's graph laid out left to right by ELK, each node showing its task's state in the selected run. */
import { applyNodeChanges, Background, Controls, Handle, MarkerType, Position, ReactFlow, type Edge, type Node, type NodeChange, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import ELK from "elkjs/lib/elk.bundled.js";
import { useCallback, useEffect, useMemo, useState } from "react";
import type { SerializedTask, TaskState } from "./api.ts";
import { Link, StateBadge } from "./ui.tsx";

const elk = new ELK();
const NODE_WIDTH = 190;
const NODE_HEIGHT = 54;
// Edges attach to the handles; nothing is connected by hand, so they need not show.
const HIDDEN_HANDLE = { opacity: 0, width: 1, height: 1, minWidth: 0, minHeight: 0, border: "none" };

type TaskNodeData = { taskId: string; kind: string; state: TaskState | null; href: string | null };

function TaskNode({ data }: NodeProps<Node<TaskNodeData>>) {
  const body = (
    <>
      <span className="node-title">{data.taskId}</span>
      <span className="node-meta">
        {data.state ? <StateBadge state={data.state} /> : null} <span className="muted">{data.kind}</span>
      </span>
    </>
  );
  return (
    <div className={`graph-node state-border-${data.state ?? "unknown"}`} data-task-id={data.taskId} data-state={data.state ?? ""}>
      <Handle type="target" position={Position.Left} isConnectable={false} style={HIDDEN_HANDLE} />
      {data.href ? (
        <Link className="node-link" to={data.href}>
          {body}
        </Link>
      ) : (
        body
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} style={HIDDEN_HANDLE} />
    </div>
  );
}

const nodeTypes = { task: TaskNode };

export default function Graph({ tasks, states, hrefFor }: { tasks: SerializedTask[]; states: Record<string, TaskState>; hrefFor?: (taskId: string) => string }) {
  const shape = useMemo(() => JSON.stringify(tasks.map((t) => [t.taskId, t.downstreamTaskIds])), [tasks]);
  const [positions, setPositions] = useState<Record<string, { x: number; y: number }> | null>(null);
  useEffect(() => {
    let cancelled = false;
    void elk
      .layout({
        id: "root",
        layoutOptions: { "elk.algorithm": "layered", "elk.direction": "RIGHT", "elk.spacing.nodeNode": "24", "elk.layered.spacing.nodeNodeBetweenLayers": "60" },
        children: tasks.map((t) => ({ id: t.taskId, width: NODE_WIDTH, height: NODE_HEIGHT })),
        edges: tasks.flatMap((t) => t.downstreamTaskIds.map((d) => ({ id: `${t.taskId}->${d}`, sources: [t.taskId], targets: [d] }))),
      })
      .then((layout) => {
        if (!cancelled) setPositions(Object.fromEntries((layout.children ?? []).map((c) => [c.id, { x: c.x ?? 0, y: c.y ?? 0 }])));
      });
    return () => {
      cancelled = true;
    };
    // The layout depends on the graph's shape only, not on the states.
  }, [shape]);

  // Nodes live in state and take React Flow's changes (their measured sizes): rebuilt from scratch on each poll,
  // they would lose their measurements and be hidden until re-measured, flickering every second.
  const [nodes, setNodes] = useState<Node<TaskNodeData>[]>([]);
  const onNodesChange = useCallback((changes: NodeChange<Node<TaskNodeData>>[]) => setNodes((ns) => applyNodeChanges(changes, ns)), []);
  const statesKey = JSON.stringify(states);
  useEffect(() => {
    if (!positions) return;
    setNodes((previous) => {
      const before = new Map(previous.map((n) => [n.id, n]));
      return tasks.map((t) => ({
        ...before.get(t.taskId),
        id: t.taskId,
        type: "task",
        position: positions[t.taskId] ?? { x: 0, y: 0 },
        sourcePosition: Position.Right,
        targetPosition: Position.Left,
        data: { taskId: t.taskId, kind: t.kind, state: states[t.taskId] ?? null, href: hrefFor ? hrefFor(t.taskId) : null },
        style: { width: NODE_WIDTH },
      }));
    });
    // statesKey stands for states; hrefFor is a new function on every render of the parent.
  }, [positions, statesKey, tasks]);
  if (!positions) return <p className="muted">Laying out the graph…</p>;
  const edges: Edge[] = tasks.flatMap((t) => t.downstreamTaskIds.map((d) => ({ id: `${t.taskId}->${d}`, source: t.taskId, target: d, animated: states[d] === "running", markerEnd: { type: MarkerType.ArrowClosed } })));
  return (
    <div className="graph" aria-label="Task graph">
      <ReactFlow nodes={nodes} edges={edges} onNodesChange={onNodesChange} nodeTypes={nodeTypes} fitView nodesDraggable={false} nodesConnectable={false} proOptions={{ hideAttribution: true }} minZoom={0.2}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
