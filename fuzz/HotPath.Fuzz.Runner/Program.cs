using HotPath.Fuzz.Runner;

return FuzzMain.Run(args);
