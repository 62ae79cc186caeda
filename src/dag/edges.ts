import { VenvflowError } from "../util/errors.ts";
import type { BaseOperator } from "./operator.ts";
import { XComArg, type DependencyNode } from "./xcom.ts";

function operatorOf(node: DependencyNode): BaseOperator {
  return node instanceof XComArg ? node.operator : node;
}

/**
 * Airflow's `chain`: each item runs before the next. A list next to a single task fans out or in; two
 * adjacent lists must have the same length and are linked pairwise.
 */
export function chain(...items: (DependencyNode | readonly DependencyNode[])[]): void {
  for (let i = 0; i + 1 < items.length; i++) {
    const up = items[i]!;
    const down = items[i + 1]!;
    if (Array.isArray(up) && Array.isArray(down)) {
      const ups = up as readonly DependencyNode[];
      const downs = down as readonly DependencyNode[];
      if (ups.length !== downs.length) {
        const first = ups[0] ?? downs[0];
        throw new VenvflowError(
          "invalid_chain",
          `${first ? operatorOf(first).dag.where() : "chain()"}: chain() cannot pair lists of different lengths. Got ${ups.length} and ${downs.length}.`,
          { fix: "give adjacent lists the same length, or put a single task between them" },
        );
      }
      ups.forEach((node, j) => operatorOf(node).setDownstream(downs[j]!));
    } else if (Array.isArray(up)) {
      for (const node of up as readonly DependencyNode[]) operatorOf(node).setDownstream(down as DependencyNode);
    } else {
      operatorOf(up as DependencyNode).setDownstream(down as DependencyNode | readonly DependencyNode[]);
    }
  }
}
