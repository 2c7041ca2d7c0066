Console.WriteLine(GroundSharp.TorchRuntime.EnsureLoaded());
