using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("GroundSharp.Tests")]
