// Converts one nsfwjs model folder (UMD .min.js files) into a standard TF.js layers model:
//   node tools/fetch_models.js SRC_DIR DEST_DIR  ->  DEST_DIR/model.json + DEST_DIR/weights.bin
// model.min.js exports {modelTopology, weightsManifest}; each group*-shard*.min.js exports one base64
// string. The shards of each manifest group are concatenated in order, as TF.js reads them.
'use strict';
const fs = require('fs');
const path = require('path');

const [src, dest] = process.argv.slice(2);
if (!src || !dest) {
  console.error('usage: node fetch_models.js SRC_DIR DEST_DIR');
  process.exit(2);
}
const model = require(path.resolve(src, 'model.min.js'));
if (!model.modelTopology || !model.weightsManifest) {
  throw new Error(`${src}/model.min.js does not export {modelTopology, weightsManifest}`);
}
const buffers = [];
for (const group of model.weightsManifest) {
  for (const shard of group.paths) {
    const b64 = require(path.resolve(src, `${shard}.min.js`));
    if (typeof b64 !== 'string') throw new Error(`${src}/${shard}.min.js does not export a base64 string`);
    buffers.push(Buffer.from(b64, 'base64'));
  }
}
const weights = Buffer.concat(buffers);
// One group, one file: the weights keep their manifest order, so offsets are unchanged.
const specs = model.weightsManifest.flatMap((g) => g.weights);
const out = {
  format: 'layers-model',
  generatedBy: 'nsfwjs model.min.js via deepvox tools/fetch_models.js',
  convertedBy: null,
  modelTopology: model.modelTopology,
  weightsManifest: [{paths: ['weights.bin'], weights: specs}],
};
fs.mkdirSync(dest, {recursive: true});
// Write to temporary names first so an interrupted run never leaves a half model that looks complete.
fs.writeFileSync(path.join(dest, 'weights.bin.tmp'), weights);
fs.writeFileSync(path.join(dest, 'model.json.tmp'), JSON.stringify(out));
fs.renameSync(path.join(dest, 'weights.bin.tmp'), path.join(dest, 'weights.bin'));
fs.renameSync(path.join(dest, 'model.json.tmp'), path.join(dest, 'model.json'));
console.log(`[fetch_models] ${dest}: ${specs.length} tensors, ${weights.length} bytes`);
