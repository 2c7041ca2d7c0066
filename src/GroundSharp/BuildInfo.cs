using System.Reflection;

namespace GroundSharp;

/// <summary>What build of GroundSharp is running (the commit is stamped at build time when git is available).</summary>
public static class BuildInfo
{
    public static string Version { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The commit after '+' in the informational version, or "unknown".</summary>
    public static string Commit => Version.Contains('+') ? Version[(Version.IndexOf('+') + 1)..] : "unknown";
}
