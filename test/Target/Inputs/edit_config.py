"""Breaks an exported folder's quantization_config in one named way."""
import json
import sys

folder, edit = sys.argv[1], sys.argv[2]
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
else:
    raise SystemExit("unknown edit " + edit)
json.dump(config, open(path, "w"), indent=2)
