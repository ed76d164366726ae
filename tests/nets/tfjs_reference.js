// Reference activations of a Keras model from TensorFlow.js (CPU backend), for tests/nets.
//   node tfjs_reference.js TFJS_MODULE MODEL_DIR INPUT.f32 N SIZE OUT_PREFIX LAYER...
// MODEL_DIR holds model.json + weights.bin (tools/fetch_models.sh); INPUT.f32 is float32 NHWC
// [>=N, SIZE, SIZE, 3] (the first N are used). Writes OUT_PREFIX<layer>.f32 (float32, the layer's NHWC output) and
// OUT_PREFIX.json ({layer: shape}).
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [tfjsModule, modelDir, inputPath, n, size, outPrefix, ...layers] = process.argv.slice(2);
  const tf = require(tfjsModule);
  await tf.setBackend('cpu');
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const groups = json.weightsManifest;
  const buffers = groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(modelDir, p))));
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData,
  }));
  const tap = tf.model({inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output)});
  const raw = fs.readFileSync(inputPath);
  const x = tf.tensor4d(new Float32Array(raw.buffer, raw.byteOffset, n * size * size * 3), [+n, +size, +size, 3]);
  let outs = tap.predict(x);
  if (!Array.isArray(outs)) outs = [outs];
  const shapes = {};
  for (let i = 0; i < layers.length; ++i) {
    const data = outs[i].dataSync();
    fs.writeFileSync(`${outPrefix}${layers[i]}.f32`, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    shapes[layers[i]] = outs[i].shape;
  }
  fs.writeFileSync(`${outPrefix}.json`, JSON.stringify(shapes));
  console.log(`tfjs ${tf.version.tfjs} (${tf.getBackend()}): ${JSON.stringify(shapes)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
