// Checks Kubernetes manifests against the API schemas bundled in the npm package
// kubernetes-models (no cluster needed). Usage: node validate_manifests.mjs <file.yaml>...
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const kinds = {
  "v1/Secret": "kubernetes-models/v1/Secret",
  "v1/ConfigMap": "kubernetes-models/v1/ConfigMap",
  "v1/Service": "kubernetes-models/v1/Service",
  "apps/v1/Deployment": "kubernetes-models/apps/v1/Deployment",
  "apps/v1/StatefulSet": "kubernetes-models/apps/v1/StatefulSet",
  "autoscaling/v2/HorizontalPodAutoscaler":
    "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler",
};
let failed = 0, checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { console.error(`${file}: ${doc.errors[0].message}`); failed++; continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const module = kinds[key];
    if (!module) { console.error(`${file}: no schema for ${key}`); failed++; continue; }
    const { [obj.kind]: Model } = await import(module);
    try {
      new Model(obj).validate();
      checked++;
    } catch (err) {
      console.error(`${file}: ${key} ${obj.metadata?.name}: ${err.message}`);
      failed++;
    }
  }
}
console.log(`validate_manifests: ${checked} valid, ${failed} invalid`);
process.exitCode = failed ? 1 : 0;
