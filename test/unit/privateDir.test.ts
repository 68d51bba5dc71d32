// stateDir must be the deploying user's alone: a directory others can write lets them plant
// what the stack would trust (issue: a planted release ran as root).
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { privateDirProblem } from "../../components/privateDir";
import { recordOutcome } from "../../scripts/lib/reliability";
import { ProgramRefused, registered, runProgram } from "../support/mocks";

describe("stateDir must be private to the deploying user", () => {
    let dir: string;
    const uid = os.userInfo().uid;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-private-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("refuses a directory others can write, or one under such a directory; allows a sticky one", () => {
        const shared = path.join(dir, "shared");
        fs.mkdirSync(shared);
        fs.chmodSync(shared, 0o777);
        assert.match(
            privateDirProblem(path.join(shared, "state"), uid) ?? "",
            /shared is writable by others \(mode 0777\)/,
        );
        fs.chmodSync(shared, 0o1777);
        assert.equal(privateDirProblem(path.join(shared, "state"), uid), undefined, "sticky, as /tmp is");
        fs.mkdirSync(path.join(shared, "state"));
        fs.chmodSync(path.join(shared, "state"), 0o775);
        assert.match(privateDirProblem(path.join(shared, "state"), uid) ?? "", /state is writable by others/);
        fs.chmodSync(path.join(shared, "state"), 0o755);
        assert.equal(privateDirProblem(path.join(shared, "state"), uid), undefined);
        // Owned by someone else (planted first): refused. Only root can hand a directory over.
        if (uid === 0) {
            fs.chownSync(path.join(shared, "state"), 65534, 65534);
            assert.match(privateDirProblem(path.join(shared, "state"), uid) ?? "", /belongs to user 65534/);
        } else {
            assert.match(privateDirProblem("/root", uid) ?? "", /belongs to user 0/);
        }
    });

    it("the program refuses such a stateDir before registering anything, saying how to fix it", async () => {
        const shared = path.join(dir, "shared");
        fs.mkdirSync(shared);
        fs.chmodSync(shared, 0o777);
        const stateDir = path.join(shared, "state");
        await assert.rejects(
            runProgram({ activeColor: "blue", drainToken: "test-token-0123456789", stateDir }),
            (err: unknown) => {
                assert.ok(err instanceof ProgramRefused);
                assert.match(err.message, /bluegreen:stateDir is \S+\/shared\/state, but \S+\/shared is writable/);
                assert.match(err.message, /Fix: pulumi config set stateDir \.state\/local/);
                return true;
            },
        );
        assert.deepEqual(
            registered.filter((r) => !r.type.startsWith("pulumi:")),
            [],
            "nothing registered",
        );
        recordOutcome({
            area: "security",
            fault: "stateDir inside a directory every local user can write (mode 0777)",
            expected: "refused at preview naming the directory and the fix; nothing registered",
            observed: "refused: writable by others; nothing registered",
            sent: 0,
            lost: 0,
        });
    });
});
