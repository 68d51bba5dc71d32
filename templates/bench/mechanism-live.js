// njs 0.7 has no memory shared between requests: the live pool is read from a file each time.
import fs from "fs";
function pool(r) {
    return "pool_" + fs.readFileSync(r.variables.live_file || "{{prefix}}/conf/live-color", "utf8").trim();
}
export default { pool };
