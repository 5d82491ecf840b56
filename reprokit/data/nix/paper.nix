# Rerunning the paper: apps, checks, a development shell and a Docker image.
#
# Everything runs in a copy of paper/ (taken from the store), never in the bundle, whose
# files SHA256SUMS lists. Each entry point runs from its own folder, as its author ran it.
{ pkgs, env, root, lock }:
let
  u = import ./util.nix;
  coreutils = "${pkgs.coreutils}/bin";
  shell = pkgs.runtimeShell or "${pkgs.bash}/bin/bash";

  paper = builtins.path { path = root + "/paper"; name = "paper"; };

  # A paper that is a package reads its own metadata as an installed one does
  # (importlib.metadata.version("mypkg"), its entry points): a .dist-info of it.
  project = lock.project or null;
  projectMeta = pkgs.runCommand "paper-metadata" { } (''
    mkdir -p $out/${u.escapeShellArg project.distInfo}
    cp ${pkgs.writeText "METADATA" project.metadata} $out/${u.escapeShellArg project.distInfo}/METADATA
  '' + (if project.entryPoints == "" then "" else ''
    cp ${pkgs.writeText "entry_points.txt" project.entryPoints} $out/${u.escapeShellArg project.distInfo}/entry_points.txt
  ''));

  # Folders of the paper on sys.path, as an installed (pip install -e .) paper has its own
  # modules, and its metadata: `exportPath "$work"` in a script.
  pathOf = top: map (p: "${top}/${u.escapeShellArg p}") (lock.pythonPath or [ ]) ++ (if project == null then [ ] else [ "${projectMeta}" ]);
  exportPath = top: if pathOf top == [ ] then "" else
    "export PYTHONPATH=" + builtins.concatStringsSep ":" (pathOf top) + "\n";

  # Figures a script shows (plt.show()) are saved as shown/figure-N.png, as reprokit's
  # runs save them: reprokit_show.py, a matplotlib backend.
  showBackend = pkgs.runCommand "reprokit-show" { } "mkdir -p $out && cp ${./reprokit_show.py} $out/reprokit_show.py";
  showing = ep: top: if ep.kind == "notebook" then "" else
    "export MPLBACKEND=module://reprokit_show REPROKIT_SHOWN=${top}/shown PYTHONPATH=${showBackend}\${PYTHONPATH:+:$PYTHONPATH}\n";

  command = ep:
    if ep.kind == "notebook" then "${env}/bin/jupyter-execute ${u.escapeShellArgs ([ ep.file ] ++ ep.args)}"
    else "${env}/bin/python ${u.escapeShellArgs ([ ep.file ] ++ ep.args)}";

  # The build steps (`python setup.py build_ext --inplace`, marked `build`) make the
  # paper's own extension modules: they run first, in the copy every other entry point
  # runs in, as reprokit's own runs do.
  builds = builtins.filter (ep: ep.build or false) lock.entryPoints;
  prepare = ep: top: if ep.build or false then "" else
    u.concatMapStrings (b: "(cd ${top}/${u.escapeShellArg b.dir} && ${command b})\n") builds;
  # A build compiles: its check needs the C compiler runCommand leaves out.
  runCommand = if builds == [ ] then pkgs.runCommand else pkgs.runCommandCC or pkgs.runCommand;

  app = ep: {
    type = "app";
    program = "${pkgs.writeScript "run-${ep.name}" ''
      #!${shell}
      # Runs an entry point in a fresh copy of the paper ($REPROKIT_WORKDIR, or a new temporary folder).
      set -eu
      work="''${REPROKIT_WORKDIR:-}"
      if [ -z "$work" ]; then work="$(${coreutils}/mktemp -d "''${TMPDIR:-/tmp}/reprokit-run.XXXXXX")"; fi
      ${coreutils}/mkdir -p "$work"
      ${coreutils}/cp -R ${paper}/. "$work/"
      ${coreutils}/chmod -R u+w "$work"
      echo "reprokit: running "${u.escapeShellArg ep.name}" in $work" >&2
      ${exportPath "\"$work\""}
      ${showing ep "\"$work\""}
      ${prepare ep "\"$work\""}
      cd "$work"/${u.escapeShellArg ep.dir}
      exec ${command ep} "$@"
    ''}";
  };

  expected = ep: pkgs.writeText "expected-${ep.name}.sha256"
    (u.concatMapStrings (o: "${o.sha256}  ${o.path}\n") ep.outputs);

  # An output whose rule has tolerances must at least be written again; reprokit applies
  # the rule (`reprokit validate --rerun`).
  written = o: ''
    if [ -e ${u.escapeShellArg o.path} ]; then
      echo ${u.escapeShellArg "${o.path}: written (compared by its ${o.rule} rule by reprokit validate --rerun, not here)"}
    else
      echo ${u.escapeShellArg "${o.path}: FAILED, not written"} >&2
      exit 1
    fi
  '';

  # Reruns an entry point and compares what it wrote with the recorded sha256 of each output.
  check = ep: runCommand "rerun-${ep.name}" { } (''
    cp -R ${paper}/. work
    chmod -R u+w work
    cd work
    export HOME="$TMPDIR" MPLBACKEND=Agg
    ${exportPath "\"$PWD\""}
    ${prepare ep "\"$PWD\""}
    ${showing ep "\"$PWD\""}
    (cd ./${u.escapeShellArg ep.dir} && ${command ep})
  '' + (if ep.outputs == [ ] then "" else ''
    ${coreutils}/sha256sum -c ${expected ep}
  '') + u.concatMapStrings written ep.ruled + (if ep.outputs == [ ] && ep.ruled == [ ] then ''
    echo ${u.escapeShellArg "reprokit: ${ep.name} has no recorded outputs; it ran without error"}
  '' else "") + ''
    mkdir -p $out
    cp -R . $out/
  '');

  named = f: builtins.listToAttrs (map (ep: { inherit (ep) name; value = f ep; }) lock.entryPoints);
  apps = named app;
  defaultApp = if lock.entryPoints == [ ] then { } else { default = apps.default or app (builtins.head lock.entryPoints); };

  mkShell = pkgs.mkShell or (attrs: pkgs.stdenv.mkDerivation (attrs // { name = "shell"; phases = [ "installPhase" ]; installPhase = "touch $out"; }));
  buildImage = pkgs.dockerTools.buildLayeredImage or pkgs.dockerTools.buildImage;
in
{
  apps = apps // defaultApp;
  checks = named check;

  # `packages` would be empty on nixpkgs before 2022; `buildInputs` works on all of them.
  shell = mkShell { buildInputs = [ env ]; };

  image = buildImage {
    name = lock.imageName;
    tag = "latest";
    contents = [ env ];
    extraCommands = ''
      mkdir -p paper tmp
      cp -R ${paper}/. paper/
      chmod -R u+w paper
      chmod 1777 tmp
    '';
    config = {
      Cmd = [ "${env}/bin/python" ];
      WorkingDir = "/paper";
      Env = [ "HOME=/tmp" "MPLBACKEND=Agg" ];
    };
  };
}
