// `npm run bench`: the numbers behind the claims, measured on the local target in one session
// on this machine, only against loopback, in about 18 minutes. Writes docs/benchmarks.json
// (every measurement), docs/benchmarks.md (the report) and docs/switch-timeline-<mode>.svg.
// Each scenario is a file under scenarios/; the report is report.ts over a template.
import { Command } from "commander";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../lib/pulumi";
import { DOCS, MODES, say, started } from "./common";
import { report } from "./report";
import type { BenchResults, Machine } from "./results";
import { articleSwitch } from "./scenarios/articleSwitch";
import { fullRateSwitching } from "./scenarios/fullRateSwitching";
import { gateAlone } from "./scenarios/gateAlone";
import { idleDeploy } from "./scenarios/idleDeploy";
import { mechanism } from "./scenarios/mechanism";
import { metricsCanary } from "./scenarios/metricsCanary";
import { restartDeploy } from "./scenarios/restartDeploy";
import { Program, checkoutBaseline, rollback } from "./scenarios/rollback";
import { routers } from "./scenarios/routers";
import { scale } from "./scenarios/scale";
import { switchUnderLoad } from "./scenarios/switchUnderLoad";

const RESULTS = path.join(DOCS, "benchmarks.json");
const REPORT = path.join(DOCS, "benchmarks.md");
/** Where a full run keeps the sections it finished, until all are done. */
const PARTIAL = path.join(os.tmpdir(), "bluegreen-bench-partial.json");

interface Options {
    readonly quick?: boolean;
    readonly only?: string;
    readonly baseline?: string;
    readonly report?: boolean;
}

/** Filled section by section; complete once the run (or the results it re-measures) is done. */
type Results = Partial<BenchResults> & { machine: Machine };

function readResults(): BenchResults {
    return JSON.parse(fs.readFileSync(RESULTS, "utf8")) as BenchResults;
}

function write(results: Results): void {
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
    fs.writeFileSync(REPORT, report(results as BenchResults));
}

async function main(options: Options): Promise<void> {
    fs.mkdirSync(DOCS, { recursive: true });
    if (options.report) {
        fs.writeFileSync(REPORT, report(readResults()));
        return;
    }
    const quick = options.quick ?? false;
    const only = options.only?.split(",");
    const results: Results = {
        machine: {
            cpus: os.cpus().length,
            memoryGiB: Math.round(os.totalmem() / 2 ** 30),
            node: process.version,
            date: new Date().toISOString(),
        },
    };
    const measuresRollback = !only || only.includes("rollback");
    const baseline = options.baseline && measuresRollback ? checkoutBaseline(options.baseline) : undefined;
    try {
        const current: Program = { label: "this checkout", dir: REPO_ROOT };
        const rollbackSection = async (runs: number) => {
            const [now, before] = await rollback(runs, baseline ? [current, baseline] : [current]);
            results.rollback = now;
            // A "before" column only beside the run it was measured with.
            if (before) results.rollbackBaseline = before;
            else delete results.rollbackBaseline;
        };
        const sections: Record<string, () => Promise<void>> = {
            mechanism: async () => void (results.mechanism = await mechanism(5)),
            metricsCanary: async () => void (results.metricsCanary = await metricsCanary(30)),
            gateAlone: async () => void (results.gateAlone = await gateAlone([1, 4, 16], 15)),
            rollback: () => rollbackSection(5),
            scale: async () => void (results.scale = await scale([1, 4, 16], 5)),
            routers: async () => void (results.routers = await routers(10)),
        };
        if (only) {
            // Re-measure some sections into the existing results.
            const unknown = only.filter((name) => !sections[name]);
            if (unknown.length > 0) throw new Error(`--only takes some of: ${Object.keys(sections).join(", ")}`);
            const previous = readResults();
            Object.assign(results, { ...previous, remeasured: { date: results.machine.date, sections: only } });
            for (const name of only) await sections[name]();
            results.wallSeconds = previous.wallSeconds;
        } else {
            // Each section's numbers are kept as soon as it ends, apart from the committed ones: after a
            // failure, copy that file over docs/benchmarks.json and measure the rest with --only.
            fs.rmSync(PARTIAL, { force: true });
            const keep = () => fs.writeFileSync(PARTIAL, JSON.stringify(results, null, 2) + "\n");
            results.switchUnderLoad = [];
            for (const mode of MODES) results.switchUnderLoad.push(await switchUnderLoad(mode, quick ? 2 : 5));
            keep();
            results.fullRateSwitching = [];
            for (const mode of MODES) results.fullRateSwitching.push(await fullRateSwitching(mode, quick ? 3 : 20));
            keep();
            await rollbackSection(quick ? 2 : 5);
            keep();
            results.idleDeploy = await idleDeploy(quick ? 1 : 3);
            keep();
            results.restartDeploy = await restartDeploy(quick ? 1 : 3);
            keep();
            results.articleSwitch = await articleSwitch(quick ? 1 : 3);
            keep();
            results.scale = await scale(quick ? [1, 4] : [1, 4, 16], quick ? 2 : 5);
            keep();
            results.gateAlone = await gateAlone([1, 4, 16], quick ? 5 : 15);
            keep();
            results.mechanism = await mechanism(quick ? 2 : 5);
            keep();
            results.metricsCanary = await metricsCanary(quick ? 4 : 30);
            keep();
            results.routers = await routers(quick ? 2 : 10);
            results.wallSeconds = (Date.now() - started) / 1000;
        }
    } finally {
        baseline?.remove();
    }
    write(results);
    say(`done: docs/benchmarks.md, docs/benchmarks.json${only ? "" : ", docs/switch-timeline-*.svg"}`);
}

const program = new Command("bench")
    .description("Measure the local target and write docs/benchmarks.{json,md}.")
    .option("--quick", "fewer runs of each section: a smoke run, not figures to publish")
    .option("--only <sections>", "re-measure these sections (comma-separated) into docs/benchmarks.json")
    .option("--baseline <commit>", "measure the rollback section against this commit too, in the same rounds")
    .option("--report", "only render docs/benchmarks.md again from docs/benchmarks.json")
    .parse();

main(program.opts<Options>()).catch((err: Error) => {
    console.error(`bench: ${err.stack ?? err.message}`);
    if (fs.existsSync(PARTIAL)) console.error(`bench: the sections measured before this are in ${PARTIAL}`);
    process.exit(1);
});
