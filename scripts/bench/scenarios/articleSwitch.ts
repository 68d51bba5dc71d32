// 4b. Baseline: the source article's switch (curl loops with 2 s sleeps, host after host, sed,
// reload), under the paced load.
import { spawnSync } from "node:child_process";
import { loadScript } from "../../../components/templates";
import { Load } from "../../lib/load";
import { startBaseline, stopBaseline } from "../baseline";
import { say, sleep } from "../common";

export interface ArticleSwitchRun {
    readonly switchMs: number;
    readonly failed: number;
    readonly closedOnReuse: number;
    readonly byColor: Readonly<Record<string, number>>;
}

export async function articleSwitch(runs: number): Promise<ArticleSwitchRun[]> {
    say("baseline: the source article's switch (sed + reload + curl loops with 2 s sleeps)");
    const rows: ArticleSwitchRun[] = [];
    // The article's script with this project's lib.sh in front, as every template script gets it.
    const script = loadScript("../bench/article-deploy.sh").text;
    for (let i = 0; i < runs; i++) {
        const base = 31100 + i * 10;
        const b = await startBaseline("article", true, { blue: [base + 1, base + 2], green: [base + 5, base + 6] });
        try {
            const load = new Load({ url: `http://127.0.0.1:${b.port}`, rate: 300, maxSeconds: 60 }).start();
            await sleep(1000);
            const t0 = Date.now();
            const r = spawnSync("bash", ["-c", script], {
                env: { ...process.env, PREFIX: b.prefix, NEW_COLOR: "green", NEW_PORTS: `${base + 5} ${base + 6}` },
                encoding: "utf8",
            });
            const switchMs = Date.now() - t0;
            if (r.status !== 0) throw new Error(`article deploy failed: ${r.stderr}`);
            await sleep(1000);
            const res = await load.stop();
            rows.push({
                switchMs,
                failed: res.failures.length,
                closedOnReuse: res.closedOnReuse,
                byColor: res.byColor,
            });
        } finally {
            stopBaseline(b);
        }
    }
    return rows;
}
