// 5b. The gate script alone against trivial /health servers in this process: its own cost per
// host, apart from the apps' and nginx's share of the machine.
import { spawn } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { SCRIPTS, declaredEnvironment, declaredScript } from "../../../components/scripts";
import { say } from "../common";

export interface GateAloneRow {
    readonly hosts: number;
    readonly gateMs: readonly number[];
}

export async function gateAlone(sizes: readonly number[], rounds: number): Promise<GateAloneRow[]> {
    say(`gate script alone: ${sizes.join(", ")} trivial hosts, ${rounds} interleaved rounds`);
    const servers = await Promise.all(
        Array.from({ length: Math.max(...sizes) }, async () => {
            const server = http.createServer((_req, res) => {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ status: "ready", version: "1.0.0", color: "green" }));
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            return server;
        }),
    );
    const gate = SCRIPTS.healthGate;
    const script = declaredScript(gate);
    const runGate = (hosts: number) =>
        new Promise<number>((resolve, reject) => {
            const list = servers
                .slice(0, hosts)
                .map((server, i) => `green-${i + 1}=127.0.0.1:${(server.address() as AddressInfo).port}`);
            // Typed by the script's declaration, as the program's gate is: a renamed input fails to compile.
            const env = declaredEnvironment(gate, {
                HOSTS: list.join(" "),
                POOL_COLOR: "green",
                EXPECT_VERSION: "1.0.0",
                GATE_TIMEOUT_SECONDS: "10",
                HEALTH_INTERVAL_MS: "100",
                CONFIG_ID: "bench", // a trigger only: the script never reads it
            });
            const child = spawn("bash", ["-c", script.text, script.name], { env: { PATH: process.env.PATH, ...env } });
            let out = "";
            child.stdout.on("data", (chunk) => (out += chunk));
            child.on("error", reject);
            child.on("close", () => {
                const m = /Gate passed: all \d+ green host\(s\) ready in (\d+) ms/.exec(out);
                if (m) resolve(Number(m[1]));
                else reject(new Error(`the gate did not pass against trivial servers:\n${out}`));
            });
        });
    const gateMs: Record<number, number[]> = Object.fromEntries(sizes.map((n) => [n, []]));
    try {
        for (let round = 0; round < rounds; round++) for (const n of sizes) gateMs[n].push(await runGate(n));
    } finally {
        for (const server of servers) server.close();
    }
    return sizes.map((hosts) => ({ hosts, gateMs: gateMs[hosts] }));
}
