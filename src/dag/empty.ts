import { BaseOperator, type TaskOptions } from "./operator.ts";

/** Does nothing: a join point or placeholder (Airflow's EmptyOperator). */
export class EmptyOperator extends BaseOperator<undefined> {
  constructor(options: TaskOptions) {
    super("empty", options, []);
  }
}
