// What deploy-host.sh reports on a line of its output: the instance id its app echoed on
// /health (report_deployed), which the gate then demands of that host.
import { z } from "zod";
import { parseResultLine } from "./resultLine";

export const DEPLOY_RESULT_PREFIX = "bluegreen-deploy ";

const DeployResult = z.object({
    /** INSTANCE_ID as the app's /health echoed it, or "" for an app that does not echo it. */
    instance: z.string().regex(/^[0-9a-f]*$/, "hex digits"),
});

/**
 * The instance id a host's deploy saw its app echo, or "" when it echoes none. A deploy made by
 * an earlier version of the program has no result line: "" as well (nothing to demand).
 */
export function deployedInstance(stdout: string): string {
    return parseResultLine(stdout, DEPLOY_RESULT_PREFIX, DeployResult, "the deploy's")?.instance ?? "";
}
