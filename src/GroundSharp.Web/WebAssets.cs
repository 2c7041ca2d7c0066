using Microsoft.Extensions.FileProviders;

namespace GroundSharp.Web;

/// <summary>The page, its script and style, and the sample scenes, embedded from wwwroot/.</summary>
public static class WebAssets
{
    private const string BaseNamespace = "GroundSharp.Web.wwwroot";

    public static IFileProvider FileProvider { get; } = new EmbeddedFileProvider(typeof(WebAssets).Assembly, BaseNamespace);

    /// <summary>Opens wwwroot/<paramref name="relativePath"/> (a path of ours, never a client's), or null.</summary>
    public static Stream? Open(string relativePath)
    {
        var file = FileProvider.GetFileInfo(relativePath);
        return file.Exists ? file.CreateReadStream() : null;
    }
}
