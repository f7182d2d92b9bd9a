"""Breaks an exported folder's quantization_config in one named way, or
renames one of its tensors (rename-tensor OLD NEW)."""
import json
import os
import struct
import sys

folder, edit = sys.argv[1], sys.argv[2]
if edit == "rename-tensor":
    old, new = sys.argv[3], sys.argv[4]
    index_path = folder + "/model.safetensors.index.json"
    index = json.load(open(index_path)) if os.path.exists(index_path) else None
    shard = index["weight_map"][old] if index else "model.safetensors"
    with open(folder + "/" + shard, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    header[new] = header.pop(old)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(folder + "/" + shard, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    if index:
        index["weight_map"][new] = index["weight_map"].pop(old)
        json.dump(index, open(index_path, "w"), indent=2)
    sys.exit(0)
path = folder + "/config.json"
config = json.load(open(path))
q = config["quantization_config"]
if edit == "drop-export":
    del q["export"]
elif edit == "kv-int8":
    for key in ("layer_quant_config", "kv_cache_quant_config"):
        for entry in q[key].values():
            entry["output_tensors"]["dtype"] = "int8"
            entry["output_tensors"]["scale_type"] = "float"
elif edit == "k-dynamic":
    # k_proj (a layer pattern) gets dynamic inputs, q_proj keeps static ones.
    for key in ("layer_quant_config", "kv_cache_quant_config"):
        q[key]["*k_proj"]["input_tensors"]["is_dynamic"] = True
elif edit == "int4-weights":
    w = q["global_quant_config"]["weight"]
    w.update({"dtype": "int4", "qscheme": "per_group", "group_size": 128,
              "ch_axis": -1, "observer_cls": "PerGroupMinMaxObserver"})
elif edit == "drop-input":
    q["global_quant_config"]["input_tensors"] = None
else:
    raise SystemExit("unknown edit " + edit)
json.dump(config, open(path, "w"), indent=2)
