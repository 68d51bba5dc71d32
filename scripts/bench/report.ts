// docs/benchmarks.md from the results: the figures are formatted here, the text and the tables'
// shape are in templates/bench/benchmarks.md.hbs.
import { render } from "../../components/templates";
import { median, spread } from "../lib/stats";
import type { Quantiles, WrkRun } from "./common";
import type { BenchResults } from "./results";
import type { MechanismResult } from "./scenarios/mechanism";
import type { MetricsCanaryResult, Variant } from "./scenarios/metricsCanary";
import type { RoutersResult } from "./scenarios/routers";
import type { RollbackTimes } from "./scenarios/rollback";

/** The targets the report checks; a miss is printed, not hidden. */
const TARGETS = {
    plainSwitchSeconds: 3.0,
    skipPreviewSwitchSeconds: 2.0,
    /** From the fewest hosts per pool to the most. */
    upGrowth: 1.3,
    gateGrowth: 1.5,
    /** Throughput lost to metrics, or to metrics and the canary, against no-reload mode without them. */
    perRequestCost: 0.05,
};

function ms(v: number): string {
    if (!Number.isFinite(v)) return "n/a";
    return v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`;
}

const toSeconds = (v: number) => v / 1000;
const inSeconds = (xs: readonly number[], digits = 1) => spread(xs.map(toSeconds), " s", digits);
/** Latencies to a hundredth of a millisecond (loopback answers take about one). */
const latencies = (xs: readonly number[]) => spread(xs, " ms", 2);
const thousands = (xs: readonly number[], unit: string) =>
    spread(
        xs.map((v) => v / 1000),
        unit,
    );

const met = (ok: boolean) => (ok ? "met" : "not met");

function switchUnderLoad(r: BenchResults) {
    return r.switchUnderLoad.map((m) => ({
        mode: m.mode,
        switches: m.switches.length,
        sent: m.totals.sent,
        failed: m.totals.failed,
        closed: m.totals.closedOnReuse,
        up: inSeconds(m.switches.map((s) => s.upMs)),
        firstNewColor: inSeconds(m.switches.map((s) => s.firstNewColorMs)),
        steady: `${ms(m.steady.p50)} / ${ms(m.steady.p99)}`,
        during: `${latencies(m.switches.map((s) => s.p50))} / ${latencies(m.switches.map((s) => s.p99))}`,
    }));
}

function fullRateSwitching(r: BenchResults) {
    return r.fullRateSwitching?.map((f) => {
        const perSwitch = (n: number) => `${n} (${(n / f.switches).toFixed(2)})`;
        return {
            mode: f.mode,
            switches: f.switches,
            rps: `${(f.fullRate.rps / 1000).toFixed(1)}k`,
            latency: `${ms(f.fullRate.p50)} / ${ms(f.fullRate.p99)}`,
            failed: f.fullRate.failed,
            closed: perSwitch(f.fullRate.closedOnReuse),
            pacedSent: f.paced.sent,
            pacedFailed: f.paced.failed,
            pacedClosed: perSwitch(f.paced.closedOnReuse),
        };
    });
}

/** Sections 2 and 6; the "before" cells stay empty without a baseline (the template leaves them out). */
function rollback(now: RollbackTimes, before: RollbackTimes | undefined) {
    const commands: [string, "plain" | "skipPlain" | "npmRollback", number?][] = [
        ["`pulumi config set activeColor <c> && pulumi up --yes`", "plain", TARGETS.plainSwitchSeconds],
        [
            "`pulumi config set activeColor <c> && pulumi up --yes --skip-preview`",
            "skipPlain",
            TARGETS.skipPreviewSwitchSeconds,
        ],
        [
            "`npm run rollback` (reads the history, one `pulumi config set-all`, then `pulumi up --skip-preview`)",
            "npmRollback",
        ],
    ];
    type Kind = "withPreview" | "skipPreview";
    const phase = (t: RollbackTimes | undefined, kind: Kind, name: string) =>
        t ? ms(median(t[kind].phases.map((x) => x[name]))) : "";
    const wall = (t: RollbackTimes | undefined, kind: Kind) => (t ? ms(median(t[kind].times)) : "");
    return {
        baseline: before?.label ?? "",
        commands: commands.map(([label, key, target]) => ({
            label,
            now: inSeconds(now[key], 2),
            before: before ? inSeconds(before[key], 2) : "",
            ratio: before ? `${(median(now[key]) / median(before[key])).toFixed(2)}×` : "",
            goal: target ? `≤ ${target.toFixed(1)} s: ${met(median(now[key]) / 1000 <= target)}` : "",
        })),
        phases: Object.keys(now.withPreview.phases[0] ?? {}).map((name) => ({
            name,
            withPreview: phase(now, "withPreview", name),
            skipPreview: phase(now, "skipPreview", name),
            beforeWithPreview: phase(before, "withPreview", name),
            beforeSkipPreview: phase(before, "skipPreview", name),
        })),
        wall: {
            withPreview: wall(now, "withPreview"),
            skipPreview: wall(now, "skipPreview"),
            beforeWithPreview: wall(before, "withPreview"),
            beforeSkipPreview: wall(before, "skipPreview"),
        },
    };
}

function idleDeploy(r: BenchResults) {
    const { rows, live } = r.idleDeploy;
    return {
        up: inSeconds(rows.map((x) => x.upMs)),
        ready: spread(
            rows.flatMap((x) => x.readyMs),
            " ms",
            0,
        ),
        sent: live.sent,
        failed: live.failed,
        closed: live.closedOnReuse,
        servedBy: Object.keys(live.byColor).join(", "),
    };
}

function baselines(r: BenchResults) {
    const count = (xs: readonly number[]) => spread(xs, "", 0);
    return {
        restart: {
            failed: count(r.restartDeploy.map((x) => x.failed)),
            sent: count(r.restartDeploy.map((x) => x.sent)),
            outage: spread(
                r.restartDeploy.map((x) => x.outageSeconds),
                " s",
            ),
        },
        article: {
            failed: count(r.articleSwitch.map((x) => x.failed)),
            closed: count(r.articleSwitch.map((x) => x.closedOnReuse)),
            switch: inSeconds(r.articleSwitch.map((x) => x.switchMs)),
        },
    };
}

function overhead(r: BenchResults) {
    const rps = (xs: readonly WrkRun[]) =>
        xs.length
            ? thousands(
                  xs.map((x) => x.rps),
                  "k req/s",
              )
            : "wrk not installed";
    const paced = (rounds: readonly Quantiles[]) =>
        `${latencies(rounds.map((x) => x.p50))} / ${latencies(rounds.map((x) => x.p99))}`;
    const p99 = (rounds: readonly Quantiles[]) => median(rounds.map((x) => x.p99));
    return r.switchUnderLoad.map(({ mode, overhead: o }) => ({
        mode,
        wrkDirect: rps(o.wrkDirect),
        wrkNginx: rps(o.wrkNginx),
        pacedDirect: paced(o.paced300.direct),
        pacedNginx: paced(o.paced300.nginx),
        addedP99: (p99(o.paced300.nginx) - p99(o.paced300.direct)).toFixed(2),
    }));
}

function mechanism(m: MechanismResult | undefined) {
    if (!m) return undefined;
    const base = median(m.static);
    const labels = [
        ["static", "static upstream (reload mode)"],
        ["lua", "Lua shared dict (no-reload mode)"],
        ["njs", "njs reading a one-line file per request"],
    ] as const;
    return labels.map(([kind, label]) => ({
        label,
        throughput: m[kind].length ? thousands(m[kind], "k req/s") : "wrk not installed",
        againstStatic: m[kind].length ? `${((median(m[kind]) / base - 1) * 100).toFixed(0)}%` : "",
    }));
}

function metricsCanary(m: MetricsCanaryResult | undefined) {
    if (!m) return undefined;
    const rps = (v: Variant) => m.runs[v].map((w) => w.rps);
    const base = median(rps("baseline"));
    const [color, percent] = m.canary.split(" ");
    const canary = `a canary of ${percent}% on ${color}`;
    const labels: [Variant, string][] = [
        ["baseline", "no-reload mode without metrics (the config less its `log_by_lua_block` line), no canary"],
        ["metrics", "no-reload mode as rendered: metrics, no canary"],
        ["canaryNew", `metrics and ${canary}, new clients (no cookie: each request drawn and given one)`],
        ["canaryReturning", `metrics and ${canary}, returning clients (\`Cookie: bluegreen_client=<id>\`)`],
    ];
    return {
        seconds: m.seconds,
        rounds: m.runs.baseline.length,
        target: `${TARGETS.perRequestCost * 100}%`,
        rows: labels.map(([variant, label]) => {
            const runs = rps(variant);
            if (!runs.length)
                return {
                    label,
                    throughput: "wrk not installed",
                    ratio: "",
                    perRound: "",
                    cpu: "",
                    failed: "",
                    goal: "",
                };
            const ratio = median(runs) / base;
            // nginx's own CPU per request, against the baseline's (absent from older results).
            const cpuRuns = m.cpuMicrosPerRequest?.[variant] ?? [];
            const cpuBase = median(m.cpuMicrosPerRequest?.baseline ?? []);
            const cpuRatio = cpuRuns.length ? median(cpuRuns) / cpuBase : undefined;
            const cpu = cpuRatio === undefined ? "" : `${median(cpuRuns).toFixed(1)} µs (${cpuRatio.toFixed(3)}×)`;
            // Each run against the baseline's run of the same round: how much the ratio moves with the noise.
            const paired = runs.map((v, i) => v / m.runs.baseline[i].rps);
            const failed = m.runs[variant].reduce((sum, w) => sum + (w.failed ?? 0), 0);
            return {
                label,
                throughput: thousands(runs, "k req/s"),
                ratio: `${ratio.toFixed(3)}× (${((ratio - 1) * 100).toFixed(1)}%)`,
                perRound: variant === "baseline" ? "" : spread(paired, "×", 3),
                cpu,
                failed,
                goal:
                    variant === "baseline"
                        ? ""
                        : `within ${TARGETS.perRequestCost * 100}%: ${met(ratio >= 1 - TARGETS.perRequestCost)}` +
                          // The canary's own share of the cost: against the metrics row, which it adds to.
                          (variant.startsWith("canary")
                              ? ` (the canary alone: ${(median(runs) / median(rps("metrics"))).toFixed(3)}× of metrics)`
                              : ""),
            };
        }),
    };
}

function scale(r: BenchResults) {
    const first = r.scale[0];
    const last = r.scale[r.scale.length - 1];
    const gateGrowth = median(last.gateMs) / median(first.gateMs);
    const upGrowth = median(last.upMs) / median(first.upMs);
    return {
        rows: r.scale.map((s) => ({ hosts: s.hosts, gate: spread(s.gateMs, " ms", 0), up: inSeconds(s.upMs) })),
        fewest: first.hosts,
        most: last.hosts,
        upGrowth: upGrowth.toFixed(2),
        upTarget: TARGETS.upGrowth,
        upMet: met(upGrowth <= TARGETS.upGrowth),
        gateGrowth: gateGrowth.toFixed(2),
        gateTarget: TARGETS.gateGrowth,
        gateMet: met(gateGrowth <= TARGETS.gateGrowth),
    };
}

function gateAlone(r: BenchResults) {
    if (!r.gateAlone) return undefined;
    const first = r.gateAlone[0];
    const last = r.gateAlone[r.gateAlone.length - 1];
    return {
        rows: r.gateAlone.map((g) => ({ hosts: g.hosts, gate: spread(g.gateMs, " ms", 0) })),
        fewest: first.hosts,
        most: last.hosts,
        growth: (median(last.gateMs) / median(first.gateMs)).toFixed(2),
    };
}

function routers(r: RoutersResult | undefined) {
    if (!r || r.oneRouter.length === 0) return undefined;
    const ratios = r.twoRouters.map((t, i) => t / r.oneRouter[i]);
    return {
        rounds: r.oneRouter.length,
        one: ms(median(r.oneRouter)),
        two: ms(median(r.twoRouters)),
        ratio: `${(median(r.twoRouters) / median(r.oneRouter)).toFixed(2)}×`,
        perRound: spread(ratios, "×", 2),
    };
}

export function report(r: BenchResults): string {
    return render("bench/benchmarks.md.hbs", {
        machine: { ...r.machine, date: r.machine.date.slice(0, 10) },
        remeasured: r.remeasured && { date: r.remeasured.date.slice(0, 10), sections: r.remeasured.sections.join(",") },
        switchUnderLoad: switchUnderLoad(r),
        fullRateSwitching: fullRateSwitching(r),
        rollback: rollback(r.rollback, r.rollbackBaseline),
        idleDeploy: idleDeploy(r),
        baselines: baselines(r),
        overhead: overhead(r),
        mechanism: mechanism(r.mechanism),
        metricsCanary: metricsCanary(r.metricsCanary),
        routers: routers(r.routers),
        scale: scale(r),
        gateAlone: gateAlone(r),
        wallMinutes: (r.wallSeconds / 60).toFixed(1),
    });
}
