# tests of common/ (cfg, json, util, log)
