// User-data of the aws target's instances (templates/cloud-init/host.yaml.hbs): pure, so tests
// render exactly what an instance boots with. It installs the root helper
// (templates/root/bluegreen-root.sh), the only command sudo lets the app user run as root.
import { gzipSync } from "node:zlib";
import { readTemplate, render } from "../../templates";

/** Where cloud-init installs the root helper; the sudoers line names this path only. */
export const ROOT_HELPER_PATH = "/usr/local/sbin/bluegreen-root";

/** EC2 refuses user-data over 16 KiB (counted before base64). */
export const USER_DATA_LIMIT = 16384;

export interface UserDataArgs {
    /** The app user: the program logs in as it, the app and nginx run as it. */
    readonly user: string;
    readonly publicKey: string;
    readonly remoteDir: string;
}

/** TEXT as the body of a YAML block scalar six spaces deep (empty lines stay empty). */
function indented(text: string): string {
    return text
        .replace(/\n$/, "")
        .split("\n")
        .map((line) => (line ? `      ${line}` : ""))
        .join("\n");
}

/** The nginx host's user-data (`unitText` absent), or a pool host's with its app unit. */
export function userData(role: string, args: UserDataArgs, nginx: boolean, unitText?: string): string {
    const text = render("cloud-init/host.yaml.hbs", {
        role,
        nginx,
        user: args.user,
        publicKey: args.publicKey,
        remoteDir: args.remoteDir,
        rootHelperPath: ROOT_HELPER_PATH,
        // write_files' gz+b64: the helper as text would take most of the 16 KiB.
        rootHelper: gzipSync(readTemplate("root/bluegreen-root.sh"), { level: 9 }).toString("base64"),
        unitText: unitText ? indented(unitText) : "",
    });
    const size = Buffer.byteLength(text);
    if (size > USER_DATA_LIMIT) {
        throw new Error(
            `the ${role} host's user-data is ${size} bytes, over EC2's limit of ${USER_DATA_LIMIT}. ` +
                "Fix: a shorter appStartCommand, remoteDir or awsPublicKey",
        );
    }
    return text;
}
