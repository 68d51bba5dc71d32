// The command line every remote script runs under (components/hosts.ts commandInputs with a
// deadline), run by sh as sshd would: the host itself stops a script past its deadline and says
// so; within it, the script's output and exit status pass through unchanged.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { commandInputs } from "../../components/hosts";

function runRemote(scriptText: string, deadlineSeconds: number): { status: number | null; stdout: string; stderr: string } {
    const inputs = commandInputs({ create: { name: "slow.sh", text: scriptText }, environment: { NAME: "green-1" } }, deadlineSeconds);
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", ...(inputs.environment as Record<string, string>) };
    // stdin not a socket, or bash would read ~/.bashrc as it does under rshd/sshd.
    const run = spawnSync("/bin/sh", ["-c", inputs.create!], { env, encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("remote scripts run under a deadline on their host", () => {
    it("a script past its deadline is stopped by the host, and the failure says which script and how long", () => {
        const run = runRemote('echo "started on $BLUEGREEN_NAME"; sleep 30; echo "never printed"', 1);
        assert.equal(run.status, 124, "timeout's status: the script was stopped");
        assert.equal(run.stdout.trim(), "started on green-1");
        assert.match(run.stderr, /^error: slow\.sh did not finish within its 1 s deadline on \S+; it was stopped$/m);
    });

    it("a script that ignores SIGTERM is killed 10 s after the deadline", () => {
        const run = runRemote("trap '' TERM; sleep 30", 1);
        assert.equal(run.status, 137, "SIGKILL's status");
        assert.match(run.stderr, /slow\.sh did not finish within its 1 s deadline/);
    });

    it("within the deadline, the script's output and exit status pass through unchanged", () => {
        assert.deepEqual(runRemote('echo "ok $BLUEGREEN_NAME"', 5), { status: 0, stdout: "ok green-1\n", stderr: "" });
        const failed = runRemote('echo "bad input" >&2; exit 3', 5);
        assert.equal(failed.status, 3);
        assert.equal(failed.stderr, "bad input\n", "no deadline message for a script's own failure");
    });
});
