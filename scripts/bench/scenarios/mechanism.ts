// The switch mechanism: the cost of choosing the live pool per request (static upstream, njs,
// Lua shared dict), one nginx each with trivial backends in the same nginx, wrk in interleaved rounds.
import * as fs from "node:fs";
import * as path from "node:path";
import { render } from "../../../components/templates";
import { createNginxPrefix, nginxModulesDir, startNginx, stopNginx } from "../../lib/nginxPrefix";
import { say, sleep, wrk } from "../common";

export const MECHANISMS = ["static", "njs", "lua"] as const;
export type Mechanism = (typeof MECHANISMS)[number];

/** Requests per second of each wrk round, by mechanism; empty without wrk. */
export type MechanismResult = Record<Mechanism, number[]>;

export async function mechanism(rounds: number): Promise<MechanismResult> {
    say("switch mechanism: static upstream, njs, Lua shared dict (wrk, trivial backends)");
    const modulesDir = nginxModulesDir();
    const servers: { kind: Mechanism; prefix: string; port: number }[] = [];
    const stopServers = () => servers.forEach((s) => stopNginx(s.prefix));
    MECHANISMS.forEach((kind, i) => {
        const prefix = createNginxPrefix(`bench-mechanism-${kind}`);
        const port = 31200 + i * 10;
        fs.writeFileSync(path.join(prefix, "conf", "live-color"), "blue\n");
        fs.writeFileSync(path.join(prefix, "conf", "live.js"), render("bench/mechanism-live.js", { prefix }));
        const conf = render("bench/mechanism-nginx.conf.hbs", {
            mechanism: kind,
            static: kind === "static",
            njs: kind === "njs",
            lua: kind === "lua",
            prefix,
            port,
            backendPort: port + 1,
            modulesDir,
        });
        fs.writeFileSync(path.join(prefix, "conf", "nginx.conf"), conf);
        try {
            startNginx(prefix);
        } catch (err) {
            stopServers(); // the ones already started
            throw err;
        }
        servers.push({ kind, prefix, port });
    });
    try {
        await sleep(300);
        const rps: MechanismResult = { static: [], njs: [], lua: [] };
        for (let r = 0; r < rounds; r++) {
            for (const s of servers) {
                const w = wrk(`http://127.0.0.1:${s.port}/`, 3);
                if (w) rps[s.kind].push(w.rps);
            }
        }
        return rps;
    } finally {
        stopServers();
    }
}
