// Everything a run measures, as docs/benchmarks.json holds it: `--report` renders from this alone.
import type { ArticleSwitchRun } from "./scenarios/articleSwitch";
import type { FullRateResult } from "./scenarios/fullRateSwitching";
import type { GateAloneRow } from "./scenarios/gateAlone";
import type { IdleDeployResult } from "./scenarios/idleDeploy";
import type { MechanismResult } from "./scenarios/mechanism";
import type { MetricsCanaryResult } from "./scenarios/metricsCanary";
import type { RoutersResult } from "./scenarios/routers";
import type { RestartDeployRun } from "./scenarios/restartDeploy";
import type { RollbackTimes } from "./scenarios/rollback";
import type { ScaleRow } from "./scenarios/scale";
import type { SwitchUnderLoadResult } from "./scenarios/switchUnderLoad";

export interface Machine {
    readonly cpus: number;
    readonly memoryGiB: number;
    readonly node: string;
    /** ISO time the run started. */
    readonly date: string;
}

/** Set by `--only`: those sections were measured again on that date, the rest kept. */
export interface Remeasured {
    readonly date: string;
    readonly sections: readonly string[];
}

export interface BenchResults {
    machine: Machine;
    remeasured?: Remeasured;
    switchUnderLoad: SwitchUnderLoadResult[];
    /** Absent from results older than the section. */
    fullRateSwitching?: FullRateResult[];
    rollback: RollbackTimes;
    /** Only beside the rollback run it was measured with (`--baseline`). */
    rollbackBaseline?: RollbackTimes;
    idleDeploy: IdleDeployResult;
    restartDeploy: RestartDeployRun[];
    articleSwitch: ArticleSwitchRun[];
    scale: ScaleRow[];
    gateAlone?: GateAloneRow[];
    mechanism?: MechanismResult;
    /** Absent from results older than the section. */
    metricsCanary?: MetricsCanaryResult;
    /** Absent where the machines could not be built (not root) and from results older than it. */
    routers?: RoutersResult;
    wallSeconds: number;
}
