/** `venvflow server [DAG_FOLDER]`: scheduler, workers, HTTP API and web UI in one command. */
import type { Command } from "@commander-js/extra-typings";
import { startServer } from "../server/server.ts";
import { openStore } from "../store/index.ts";
import { venvflowHome } from "../util/home.ts";
import { action } from "./common.ts";
import { parsePositiveInt } from "./runs.ts";

export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .description("Serve the web UI and HTTP API, schedule and run the DAGs under DAG_FOLDER (re-read when files change) until stopped")
    .argument("[dag_folder]", "DAG file or folder", "dags")
    .option("--host <address>", "address to bind; anything but loopback requires a token", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", "8793")
    .option("--slots <n>", "tasks run concurrently by the server's worker", "4")
    .action(
      action(async (folder, opts) => {
        const port = opts.port === "0" ? 0 : parsePositiveInt(opts.port, "--port");
        const slots = parsePositiveInt(opts.slots, "--slots");
        const store = await openStore();
        const envToken = process.env.VENVFLOW_SERVER_TOKEN;
        let server;
        try {
          server = await startServer({
            store,
            home: venvflowHome(),
            dagFolder: folder,
            host: opts.host,
            port,
            slots,
            ...(envToken ? { token: envToken } : {}),
            log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
          });
        } catch (error) {
          await store.close();
          throw error;
        }
        const running = server;
        // The generated token is printed once, here; it is never written anywhere else.
        const shown = running.token && !envToken ? `${running.url}?token=${running.token}` : running.url;
        process.stdout.write(`venvflow server: ${shown}\n  store ${store.url}, ${slots} worker slot(s)${running.token ? (envToken ? ", token from VENVFLOW_SERVER_TOKEN" : "") : ""}\n`);
        await new Promise<void>((resolve) => {
          let signals = 0;
          const stop = (): void => {
            if (++signals > 1) process.exit(130);
            process.stderr.write("stopping: waiting for running tries (signal again to quit now)\n");
            resolve();
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
        await running.close();
        await store.close();
      }),
    );
}
